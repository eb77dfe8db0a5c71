"""The original /dbtest label: 1 when the observed value reaches the reference, else 0."""


def predict(value: float, reference: float) -> int:
    return int(value >= reference)
