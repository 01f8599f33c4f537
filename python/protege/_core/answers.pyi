"""
final-answer extraction, normalisation and checking
"""
from __future__ import annotations
import collections.abc
import typing
__all__: list[str] = ['check', 'check_batch', 'equivalent', 'extract', 'normalize']
def check(text: typing.Any, gold: typing.Any, style: str = 'auto', after_think: bool = True, rel_tol: typing.SupportsFloat | typing.SupportsIndex = 1e-06, percent: str = 'drop', decimal_rel_tol: typing.SupportsFloat | typing.SupportsIndex = 0.0) -> tuple[int, bool, str]:
    ...
def check_batch(texts: typing.Any, golds: typing.Any, members: collections.abc.Sequence, style: str = 'auto', after_think: bool = True, rel_tol: typing.SupportsFloat | typing.SupportsIndex = 1e-06, percent: str = 'drop', threads: typing.SupportsInt | typing.SupportsIndex = 0, details: bool = False, decimal_rel_tol: typing.SupportsFloat | typing.SupportsIndex = 0.0) -> typing.Any:
    """
    Checks texts[i] against golds[i]; returns members[outcome] per pair (and has_answer, extracted with details).
    """
def equivalent(predicted: str, gold: str, style: str = 'auto', after_think: bool = True, rel_tol: typing.SupportsFloat | typing.SupportsIndex = 1e-06, percent: str = 'drop', decimal_rel_tol: typing.SupportsFloat | typing.SupportsIndex = 0.0) -> bool:
    ...
def extract(text: typing.Any, style: str = 'auto', after_think: bool = True) -> typing.Any:
    ...
def normalize(answer: str, style: str = 'auto', after_think: bool = True, rel_tol: typing.SupportsFloat | typing.SupportsIndex = 1e-06, percent: str = 'drop', decimal_rel_tol: typing.SupportsFloat | typing.SupportsIndex = 0.0) -> str:
    ...
