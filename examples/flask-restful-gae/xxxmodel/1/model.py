"""The original XXXModel.hello as a Python function model."""


def predict(name: str) -> str:
    return f"Hello, {name}!"
