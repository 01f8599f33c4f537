# Locate libtorch from the Python interpreter's torch (torch.utils.cmake_prefix_path) and make
# its CUDA build configurable with the CUDA toolkit on the machine (nvcc) plus the CUDA
# libraries that the torch wheel ships (nvidia-* packages). With PROTEGE_ENABLE_CUDA OFF (or
# unset, as in a consumer's find_package(protege COMPONENTS torch)), a CUDA build of torch is
# used through its CPU libraries and needs no CUDA toolkit. Defines the imported target `torch`
# and PROTEGE_TORCH_FOUND.
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

# A CUDA build of torch whose CUDA side is not wanted (PROTEGE_ENABLE_CUDA=OFF, or a consumer that
# did not ask for it): torch's CMake package would still require a usable CUDA toolkit (its
# Caffe2/public/cuda.cmake runs FindCUDA, and Caffe2Config.cmake stops with "cannot find the CUDA
# libraries" when that fails, e.g. with no nvcc or an nvcc wrapper outside the toolkit). The CPU
# libraries are linked directly instead, the way torch.utils.cpp_extension builds CPU extensions:
# include/ and include/torch/csrc/api/include, libtorch, libtorch_cpu, libc10 and torch's C++ ABI.
if(PROTEGE_TORCH_CUDA AND NOT PROTEGE_ENABLE_CUDA AND NOT TARGET torch)
  protege_python_eval(_protege_torch_dir "import torch, os; print(os.path.dirname(torch.__file__))")
  protege_python_eval(_protege_torch_abi "import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))")
  foreach(_lib torch torch_cpu c10)
    find_library(PROTEGE_TORCH_${_lib}_LIBRARY ${_lib} PATHS "${_protege_torch_dir}/lib" NO_DEFAULT_PATH)
    if(NOT PROTEGE_TORCH_${_lib}_LIBRARY)
      message(FATAL_ERROR "lib${_lib} not found in ${_protege_torch_dir}/lib (torch ${PROTEGE_TORCH_VERSION})")
    endif()
  endforeach()
  add_library(torch SHARED IMPORTED GLOBAL)
  set_target_properties(torch PROPERTIES
    IMPORTED_LOCATION "${PROTEGE_TORCH_torch_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${_protege_torch_dir}/include;${_protege_torch_dir}/include/torch/csrc/api/include"
    INTERFACE_LINK_LIBRARIES "${PROTEGE_TORCH_torch_cpu_LIBRARY};${PROTEGE_TORCH_c10_LIBRARY}"
    INTERFACE_COMPILE_DEFINITIONS "_GLIBCXX_USE_CXX11_ABI=${_protege_torch_abi}")
  set(Torch_FOUND TRUE)
  set(TORCH_LIBRARIES torch)
  set(PROTEGE_TORCH_FOUND ON)
  message(STATUS "protege: torch ${PROTEGE_TORCH_VERSION} (CUDA ${PROTEGE_TORCH_CUDA} build, CPU libraries only: "
                 "PROTEGE_ENABLE_CUDA is OFF) from ${_protege_torch_dir}")
  return()
endif()

if(PROTEGE_TORCH_CUDA)
  # torch >= 2.11's Caffe2/public/cuda.cmake runs find_package(Python COMPONENTS Interpreter) when it
  # finds libnvrtc; pybind11 3.x then takes FindPython's python_add_library, which FindPython
  # defines only when Development.Module was requested. Ask for both first, same interpreter.
  if(NOT Python_EXECUTABLE)
    set(Python_EXECUTABLE "${Python3_EXECUTABLE}")
  endif()
  find_package(Python QUIET COMPONENTS Interpreter Development.Module)
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
