"""The Galaxy Zoo 2 decision tree (Dieleman thesis, App. A, §A.2, Table A.1): 11 questions, 37 answers.

Shared by the galaxy corpora (which turn per-question answer distributions into the 37 cumulative targets), the
galaxy convnet's output constraints and the galaxy analyses, so it sits below all of them.

Answers are numbered in the competition's column order (`Class1.1` … `Class11.6`, indices 0–36). The targets are
*cumulative*: an answer's value is the fraction of all volunteers who gave it, so the answers of a question sum to
the value of the answer that leads to it — except Q6 ("anything odd?"), which every volunteer is asked and whose
answers sum to 1 in the competition data (a quirk of how those data were made; §A.6.6 of the thesis, and why the
output constraints leave Q6 unscaled).
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class Question:
    name: str  # "Q1"
    text: str
    answers: tuple[str, ...]
    # the next question after each answer ("" = end)
    next: tuple[str, ...]


QUESTIONS: tuple[Question, ...] = (
    Question("Q1", "Is the galaxy simply smooth and rounded, with no sign of a disk?",
             ("smooth", "features or disk", "star or artifact"), ("Q7", "Q2", "")),
    Question("Q2", "Could this be a disk viewed edge-on?", ("yes", "no"), ("Q9", "Q3")),
    Question("Q3", "Is there a sign of a bar feature through the center of the galaxy?", ("yes", "no"), ("Q4", "Q4")),
    Question("Q4", "Is there any sign of a spiral arm pattern?", ("yes", "no"), ("Q10", "Q5")),
    Question("Q5", "How prominent is the central bulge, compared with the rest of the galaxy?",
             ("no bulge", "just noticeable", "obvious", "dominant"), ("Q6",) * 4),
    Question("Q6", "Is there anything odd?", ("yes", "no"), ("Q8", "")),
    Question("Q7", "How rounded is it?", ("completely round", "in between", "cigar-shaped"), ("Q6",) * 3),
    Question("Q8", "Is the odd feature a ring, or is the galaxy disturbed or irregular?",
             ("ring", "lens or arc", "disturbed", "irregular", "other", "merger", "dust lane"), ("",) * 7),
    Question("Q9", "Does the galaxy have a bulge at its center? If so, what shape?",
             ("rounded", "boxy", "no bulge"), ("Q6",) * 3),
    Question("Q10", "How tightly wound do the spiral arms appear?", ("tight", "medium", "loose"), ("Q11",) * 3),
    Question("Q11", "How many spiral arms are there?", ("1", "2", "3", "4", "more than four", "can't tell"),
             ("Q5",) * 6),
)

NUM_ANSWERS = 37


def _slices() -> dict[str, slice]:
    out, start = {}, 0
    for q in QUESTIONS:
        out[q.name] = slice(start, start + len(q.answers))
        start += len(q.answers)
    assert start == NUM_ANSWERS
    return out


SLICES: dict[str, slice] = _slices()  # question → its answers' indices
ANSWER_NAMES: tuple[str, ...] = tuple(f"Class{q.name[1:]}.{i + 1}" for q in QUESTIONS for i in range(len(q.answers)))
QUESTION_OF: np.ndarray = np.array([int(q.name[1:]) - 1 for q in QUESTIONS for _ in q.answers])  # (37,) 0-based

# The order in which the output constraints turn conditional distributions into cumulative ones: each step scales
# the questions' answers by one (already scaled) answer. This is the order of the competition code; Q1 and Q6 are
# never scaled. (answer index, questions)
SCALING_ORDER: tuple[tuple[int, tuple[str, ...]], ...] = (
    (1, ("Q2",)),  # A1.2 features or disk
    (4, ("Q3", "Q4", "Q5")),  # A2.2 not edge-on
    (0, ("Q7",)),  # A1.1 smooth
    (13, ("Q8",)),  # A6.1 something odd
    (3, ("Q9",)),  # A2.1 edge-on
    (7, ("Q10", "Q11")),  # A4.1 spiral
)


def parent_answer(question: str) -> int | None:
    """The answer index whose cumulative value the question's answers sum to (None for Q1 and Q6)."""
    for answer, questions in SCALING_ORDER:
        if question in questions:
            return answer
    return None


def cumulative(conditional: np.ndarray) -> np.ndarray:
    """(…, 37) per-question conditional distributions → (…, 37) cumulative answers, scaled in `SCALING_ORDER`
    (numpy; the model's differentiable version is in `mirjax.models.galaxy`)."""
    p = np.array(conditional, dtype=np.float64, copy=True)
    for answer, questions in SCALING_ORDER:
        for q in questions:
            p[..., SLICES[q]] *= p[..., answer:answer + 1]
    return p


def conditional(cum: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """(…, 37) cumulative answers → per-question distributions (each question normalised to sum 1; a question
    nobody reached stays 0)."""
    p = np.asarray(cum, dtype=np.float64)
    out = np.zeros_like(p)
    for q in QUESTIONS:
        s = SLICES[q.name]
        total = p[..., s].sum(-1, keepdims=True)
        out[..., s] = np.where(total > eps, p[..., s] / np.maximum(total, eps), 0.0)
    return out
