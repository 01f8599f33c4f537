# Third-party packages from Debian's -dev packages. A missing package fails configure with a
# message that names the apt package to install.
include_guard(GLOBAL)

macro(protege_require_package name apt_package)
  find_package(${name} ${ARGN} QUIET)
  if(NOT ${name}_FOUND)
    message(FATAL_ERROR
      "protege needs ${name}, which was not found. On Debian/Ubuntu install it with:\n"
      "    apt-get install ${apt_package}\n"
      "(or run tools/setup.sh, which installs every dependency), or point CMAKE_PREFIX_PATH at "
      "an installation of ${name}.")
  endif()
endmacro()

find_package(Threads REQUIRED)
protege_require_package(fmt libfmt-dev CONFIG)
protege_require_package(nlohmann_json nlohmann-json3-dev CONFIG)
protege_require_package(Eigen3 libeigen3-dev CONFIG)
if(PROTEGE_BUILD_TESTS)
  protege_require_package(Catch2 catch2 CONFIG)
endif()
