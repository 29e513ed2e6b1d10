"""Contracts the serving side owns and training imports (never the reverse): tensor names,
shapes, class lists and the pure functions that make a model's input. numpy/cv2 only."""
