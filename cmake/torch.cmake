# Locate libtorch from the Python interpreter's torch (torch.utils.cmake_prefix_path) and make
# its CUDA build configurable with the CUDA toolkit on the machine (nvcc) plus the CUDA
# libraries that the torch wheel ships (nvidia-* packages).
include_guard(GLOBAL)

find_package(Python3 REQUIRED COMPONENTS Interpreter)

function(protege_python_eval out code)
  execute_process(
    COMMAND "${Python3_EXECUTABLE}" -c "${code}"
    OUTPUT_VARIABLE value ERROR_VARIABLE err RESULT_VARIABLE rc OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT rc EQUAL 0)
    set(${out} "" PARENT_SCOPE)
    set(${out}_ERROR "${err}" PARENT_SCOPE)
  else()
    set(${out} "${value}" PARENT_SCOPE)
  endif()
endfunction()

protege_python_eval(PROTEGE_TORCH_PREFIX "import torch; print(torch.utils.cmake_prefix_path)")
if(PROTEGE_TORCH_PREFIX STREQUAL "")
  set(PROTEGE_TORCH_FOUND OFF)
  return()
endif()
protege_python_eval(PROTEGE_TORCH_VERSION "import torch; print(torch.__version__.split('+')[0])")
protege_python_eval(PROTEGE_TORCH_CUDA "import torch; print(torch.version.cuda or '')")
if(PROTEGE_TORCH_VERSION VERSION_LESS 2.5)
  message(FATAL_ERROR "protege needs torch >= 2.5; ${Python3_EXECUTABLE} has torch ${PROTEGE_TORCH_VERSION}")
endif()
list(APPEND CMAKE_PREFIX_PATH "${PROTEGE_TORCH_PREFIX}")

if(PROTEGE_TORCH_CUDA)
  # Caffe2's cuda.cmake still uses the FindCUDA module.
  if(POLICY CMP0146)
    cmake_policy(SET CMP0146 OLD)
  endif()
  # The toolkit found by enable_language(CUDA)/FindCUDAToolkit (nvcc may be a wrapper script).
  if(CUDAToolkit_BIN_DIR)
    set(_nvcc_dir "${CUDAToolkit_BIN_DIR}")
  else()
    get_filename_component(_nvcc_real "${CMAKE_CUDA_COMPILER}" REALPATH)
    get_filename_component(_nvcc_dir "${_nvcc_real}" DIRECTORY)
  endif()
  if(NOT CUDA_TOOLKIT_ROOT_DIR AND _nvcc_dir)
    get_filename_component(CUDA_TOOLKIT_ROOT_DIR "${_nvcc_dir}" DIRECTORY)
    set(CUDA_TOOLKIT_ROOT_DIR "${CUDA_TOOLKIT_ROOT_DIR}" CACHE PATH "CUDA toolkit used by torch's CMake config")
  endif()
  # Libraries that the torch wheel ships but a minimal toolkit may not (nvrtc).
  protege_python_eval(_site "import torch, os; print(os.path.dirname(os.path.dirname(torch.__file__)))")
  file(GLOB _nvrtc "${_site}/nvidia/cu*/lib/libnvrtc.so*" "${_site}/nvidia/cuda_nvrtc/lib/libnvrtc.so*")
  list(FILTER _nvrtc EXCLUDE REGEX "builtins|alt")
  # Headers of the CUDA libraries torch's headers include (cusparse.h, cublas_v2.h ...).
  file(GLOB PROTEGE_TORCH_CUDA_INCLUDE_DIRS LIST_DIRECTORIES true "${_site}/nvidia/cu*/include" "${_site}/nvidia/*/include")
  if(_nvrtc AND NOT CUDA_nvrtc_LIBRARY)
    list(GET _nvrtc 0 _first)
    set(CUDA_nvrtc_LIBRARY "${_first}" CACHE FILEPATH "nvrtc library (from the torch wheel)")
  endif()
  if(NOT DEFINED ENV{TORCH_CUDA_ARCH_LIST})
    set(ENV{TORCH_CUDA_ARCH_LIST} "8.0;9.0+PTX")
  endif()
endif()

find_package(Torch CONFIG QUIET)
if(NOT Torch_FOUND)
  message(FATAL_ERROR "torch ${PROTEGE_TORCH_VERSION} is importable but its CMake package was not usable")
endif()
set(PROTEGE_TORCH_FOUND ON)
message(STATUS "protege: torch ${PROTEGE_TORCH_VERSION} (CUDA: ${PROTEGE_TORCH_CUDA}) from ${PROTEGE_TORCH_PREFIX}")
