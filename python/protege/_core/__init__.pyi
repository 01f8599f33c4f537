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
    pass
class InvalidArgument(ValueError, Error):
    pass
class ParseError(InvalidArgument):
    pass
class IoError(OSError, Error):
    pass
class NotCompiledWithCuda(Error):
    pass
class CudaError(Error):
    pass
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
