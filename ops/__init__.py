"""Operations tooling kept out of the serving package: the Helm chart's renderer for the tests."""
