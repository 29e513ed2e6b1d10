"""System shared memory between the Triton encoder client and a Triton on the same host.

Over gRPC each film travels as a 1 MB request payload and its maps come back as 1.5 MB of
response payload, serialised and copied on both sides. With ``triton_shared_memory_slots`` set,
the client instead keeps that many regions in ``/dev/shm``, each big enough for one film and
its three outputs, registers them with Triton, and a request names a free region: the film is
written there and the maps are read back from there; only the request's metadata crosses gRPC.

Only for a Triton that shares the host's ``/dev/shm`` (a sidecar, or the benchmark and tests
on loopback); against a remote Triton the registration fails at start with a clear error.
Requests of more than one film, and requests that arrive while every region is in use, travel
as gRPC payloads as before (nothing waits for a region).
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np

from orchestrator.errors import EncoderError

log = logging.getLogger(__name__)

FLOAT_BYTES = 4
CLOSE_WAIT_S = 5.0  # how long close() waits for Triton to let go of a region still in use


@dataclass(frozen=True)
class TensorSlot:
    name: str
    shape: tuple[int, ...]  # without the batch axis
    offset: int  # bytes into the region

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape)) * FLOAT_BYTES


@dataclass(frozen=True)
class Region:
    """One registered region (laid out as ``SharedMemoryPool`` says) and its local mapping."""

    name: str
    handle: Any


class SharedMemoryPool:
    """``slots`` regions, each laid out as the model's input then its outputs (one film)."""

    def __init__(self, input_slot: TensorSlot, outputs: tuple[TensorSlot, ...], slots: int) -> None:
        self.input = input_slot
        self.outputs = outputs
        self.slots = slots
        self.size = input_slot.nbytes + sum(o.nbytes for o in outputs)
        self.regions: list[Region] = []
        self._free: asyncio.Queue[Region] = asyncio.Queue()

    @classmethod
    def for_model(cls, metadata: dict[str, Any], slots: int) -> SharedMemoryPool:
        """The layout from Triton's model metadata (``get_model_metadata(..., as_json=True)``)."""

        def shape(tensor: dict[str, Any]) -> tuple[int, ...]:
            dims = tuple(int(d) for d in tensor["shape"])[1:]  # drop the batch axis (-1)
            if tensor.get("datatype") != "FP32" or any(d <= 0 for d in dims):
                raise EncoderError(f"shared memory needs fixed FP32 shapes, got {tensor}")
            return dims

        (inp,) = metadata["inputs"]
        input_slot = TensorSlot(inp["name"], shape(inp), 0)
        offset = input_slot.nbytes
        outputs = []
        for out in metadata["outputs"]:
            outputs.append(TensorSlot(out["name"], shape(out), offset))
            offset += outputs[-1].nbytes
        return cls(input_slot, tuple(outputs), slots)

    async def open(self, client: Any) -> None:
        """Create the regions and register each with Triton (through the aio ``client``)."""
        import tritonclient.utils.shared_memory as shm

        tag = f"hilum_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        try:
            for i in range(self.slots):
                name, key = f"{tag}_{i}", f"/{tag}_{i}"
                handle = shm.create_shared_memory_region(name, key, self.size)
                try:
                    await client.register_system_shared_memory(name, key, self.size)
                except Exception:
                    shm.destroy_shared_memory_region(handle)
                    raise
                region = Region(name, handle)
                self.regions.append(region)
                self._free.put_nowait(region)
        except Exception as exc:
            await self.close(client, wait_s=0.0)
            raise EncoderError(f"cannot share memory with Triton (is it on this host?): {exc}") from None

    async def close(self, client: Any, wait_s: float = CLOSE_WAIT_S) -> None:
        """Unregister and remove every region. Triton refuses to unregister a region while a
        request that names it still runs (a retired region's timed-out request): that one is
        tried again for up to ``wait_s``."""
        import tritonclient.utils.shared_memory as shm

        deadline = asyncio.get_running_loop().time() + wait_s
        for region in self.regions:
            while True:
                try:
                    await client.unregister_system_shared_memory(region.name)
                    break
                except Exception:  # noqa: BLE001 - in use, or the server is gone
                    if asyncio.get_running_loop().time() >= deadline:
                        log.warning("Triton did not release shared-memory region %s", region.name)
                        break
                    await asyncio.sleep(0.05)
            shm.destroy_shared_memory_region(region.handle)
        self.regions = []

    @property
    def free(self) -> int:
        """Regions not in use now."""
        return self._free.qsize()

    def acquire(self) -> Region | None:
        """A free region, or None when all are in use."""
        try:
            return self._free.get_nowait()
        except asyncio.QueueEmpty:
            return None

    def release(self, region: Region) -> None:
        self._free.put_nowait(region)

    def retire(self, region: Region) -> None:
        """Keep ``region`` out of use until ``close``: its request timed out on the client's
        side, and Triton may still write that request's maps into it."""
        log.warning("shared-memory region %s retired after a timed-out request (%d left)", region.name, self.free)

    def write_input(self, region: Region, film: np.ndarray) -> None:
        import tritonclient.utils.shared_memory as shm

        shm.set_shared_memory_region(region.handle, [np.ascontiguousarray(film, dtype=np.float32)])

    def read_outputs(self, region: Region) -> tuple[np.ndarray, ...]:
        """Copies of the outputs (the region is reused as soon as it is released)."""
        import tritonclient.utils.shared_memory as shm

        return tuple(
            shm.get_contents_as_numpy(region.handle, np.float32, [1, *o.shape], offset=o.offset).copy()
            for o in self.outputs
        )
