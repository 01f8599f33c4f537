"""
protege core (C++): answers, pairs, curriculum and CPU kernels
"""
from __future__ import annotations
import typing
from . import answers
from . import curriculum
from . import io
from . import pairs
__all__: list[str] = ['CudaError', 'Error', 'InvalidArgument', 'IoError', 'LogLevel', 'NotCompiledWithCuda', 'ParseError', 'answers', 'curriculum', 'get_num_threads', 'io', 'pairs', 'resolve_threads', 'set_log_callback', 'set_log_level', 'set_num_threads']
class Error(RuntimeError):
    """
    Base class of every error protege raises on bad input; derives from RuntimeError.
    
    Raised as itself only for a failure that fits none of the subclasses below; ``except protege.Error``
    catches them all (and the teacher errors of :mod:`protege.teachers`). The message says what is wrong
    and where (argument, expected and actual; or file:line:column and field).
    
    Examples:
        >>> import protege
        >>> try:
        ...     protege.answers.extract("#### 4", style="nope")
        ... except protege.Error as e:
        ...     print(type(e).__name__, isinstance(e, RuntimeError))
        InvalidArgument True
    """
class InvalidArgument(ValueError, Error):
    """
    Raised when an argument or option is out of its domain; derives from ValueError and Error.
    
    The message names the argument or option, what was expected and what was given.
    
    Examples:
        >>> import protege
        >>> try:
        ...     protege.answers.extract("#### 4", style="nope")
        ... except protege.InvalidArgument as e:
        ...     print(e)
        unknown answer style "nope" (expected one of: auto, gsm8k, boxed, answer_is, last_number)
    """
class ParseError(InvalidArgument):
    """
    Raised when a file or string cannot be parsed (a bad JSONL line, a wrong field type); derives
    from InvalidArgument (so also from ValueError and protege.Error).
    
    The message starts with ``FILE:LINE:COLUMN:``; the parts are also attributes.
    
    Attributes:
        file (str): the source name (``"<records>"`` for in-memory records).
        line (int): 1-based line, 0 when unknown.
        column (int): 1-based column, 0 when unknown.
        reason (str): what is wrong, without the position prefix.
    
    Examples:
        >>> import protege
        >>> try:
        ...     protege.pairs.build(["not a record"])
        ... except protege.ParseError as e:
        ...     print(e.file, e.line, e.column, e.reason)
        <records> 1 1 expected a JSON object, got string
    """
class IoError(OSError, Error):
    """
    Raised when a file cannot be opened, read, written or atomically renamed; derives from
    OSError and Error. The message names the path and the system's reason.
    
    Examples:
        >>> import protege
        >>> try:
        ...     protege.pairs.build("/nonexistent/samples.jsonl")
        ... except protege.IoError as e:
        ...     print(e)
        cannot open /nonexistent/samples.jsonl for reading: No such file or directory
    """
class NotCompiledWithCuda(Error):
    """
    Raised when a CUDA path (a CUDA tensor, the CUDA backend) is requested from a build without CUDA; derives from Error (a RuntimeError). ``protege.torch.built_with_cuda()`` tells beforehand.
    """
class CudaError(Error):
    """
    Raised when a CUDA runtime call or kernel launch fails; derives from Error (a RuntimeError). The message names the call and the CUDA error string.
    """
class LogLevel:
    """
    Members:
    
      debug
    
      info
    
      warning
    
      error
    
      off
    """
    __members__: typing.ClassVar[dict[str, LogLevel]]
    debug: typing.ClassVar[LogLevel]
    error: typing.ClassVar[LogLevel]
    info: typing.ClassVar[LogLevel]
    off: typing.ClassVar[LogLevel]
    warning: typing.ClassVar[LogLevel]
    @typing.overload
    def __eq__(self, other: LogLevel) -> bool:
        ...
    @typing.overload
    def __eq__(self, other: typing.Any) -> bool:
        ...
    def __getstate__(self) -> int:
        ...
    def __hash__(self) -> int:
        ...
    def __index__(self) -> int:
        ...
    def __init__(self, value: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    def __int__(self) -> int:
        ...
    @typing.overload
    def __ne__(self, other: LogLevel) -> bool:
        ...
    @typing.overload
    def __ne__(self, other: typing.Any) -> bool:
        ...
    def __repr__(self) -> str:
        ...
    def __setstate__(self, state: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    def __str__(self) -> str:
        ...
    @property
    def name(self) -> str:
        ...
    @property
    def value(self) -> int:
        ...
def get_num_threads() -> int:
    """
    The most threads parallel work uses: the pool's workers plus the calling thread.
    """
def resolve_threads(requested: typing.SupportsInt | typing.SupportsIndex) -> int:
    ...
def set_log_callback(callback: typing.Any) -> None:
    ...
def set_log_level(level: LogLevel) -> None:
    ...
def set_num_threads(n: typing.SupportsInt | typing.SupportsIndex) -> None:
    """
    Sizes the core's thread pool so that parallel work uses at most n threads (0: all).
    """
__version__: str = '0.1.0'
