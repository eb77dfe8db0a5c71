"""The original /compute: ctype 0..3 = a+b, a-b, a*b, a/b, on whole numbers as the original app
read them (so 1 - 2 answers -1, not -1.0)."""


def predict(a: int, b: int, ctype: int) -> float:
    if ctype == 0:
        return a + b
    if ctype == 1:
        return a - b
    if ctype == 2:
        return a * b
    if ctype == 3:
        if b == 0:
            raise ValueError("cannot divide by zero: b is 0 with ctype 3 (a / b)")
        return a / b
    raise ValueError(f"ctype must be 0 (a+b), 1 (a-b), 2 (a*b) or 3 (a/b), got {ctype}")
