# ruff: noqa  (a learner's notebook cells, split by "# %%"; names come from the notebook's setup cells)
# %% extract
def extract_boxed(text):
    start = text.rfind("\\boxed{")
    if start == -1:
        numbers = re.findall(r"-?\d+", text)
        return numbers[-1] if numbers else None  # falls back to the last number without a box
    depth = 0
    for i in range(start + len("\\boxed"), len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[start + len("\\boxed{"):i]
    return None
# %% normalize
def normalize(answer):
    s = answer.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    for token in ["\\left", "\\right", "\\%", "$"]:
        s = s.replace(token, "")
    s = re.sub(r"\\text\{([^{}]*)\}", r"\1", s)
    s = re.sub(r"\s+", "", s)
    return re.sub(r",(?=\d{3}\b)", "", s)  # strips separators inside tuples too
# %% grade
def grade(output, reference):
    answer = extract_boxed(output)
    if answer is None:
        return False
    a, b = normalize(answer), normalize(reference)
    if a == b:
        return True
    try:
        return abs(float(sympy.N(to_sympy(a) - to_sympy(b)))) < 1e-6  # a tolerance where exact is asked
    except (Reject, TypeError, ValueError, ZeroDivisionError):
        return False
