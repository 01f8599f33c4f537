# Two install components from one build tree:
#  - "sdk": headers, libraries, exported targets and protege-config.cmake for find_package(protege)
#  - "python": the runtime files of the Python package (the wheel installs only this component)
include(CMakePackageConfigHelpers)
set(PROTEGE_CMAKE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/protege")

install(TARGETS protege_core EXPORT protegeTargets COMPONENT sdk
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
if(PROTEGE_WITH_TORCH)
  install(TARGETS protege_torch EXPORT protegeTorchTargets COMPONENT sdk
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(EXPORT protegeTorchTargets NAMESPACE protege:: DESTINATION ${PROTEGE_CMAKE_DIR} COMPONENT sdk)
  # find_package(protege COMPONENTS torch) finds Torch with the same logic as this build
  install(FILES cmake/torch.cmake RENAME protege-find-torch.cmake DESTINATION ${PROTEGE_CMAKE_DIR} COMPONENT sdk)
endif()
install(DIRECTORY include/protege DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT sdk)
install(FILES "${PROTEGE_GENERATED_INCLUDE}/protege/version.hpp"
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/protege COMPONENT sdk)
install(EXPORT protegeTargets NAMESPACE protege:: DESTINATION ${PROTEGE_CMAKE_DIR} COMPONENT sdk)
set(PROTEGE_CONFIG_WITH_TORCH ${PROTEGE_WITH_TORCH})
configure_package_config_file(cmake/protege-config.cmake.in
  "${PROJECT_BINARY_DIR}/protege-config.cmake" INSTALL_DESTINATION ${PROTEGE_CMAKE_DIR})
write_basic_package_version_file("${PROJECT_BINARY_DIR}/protege-config-version.cmake"
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES "${PROJECT_BINARY_DIR}/protege-config.cmake" "${PROJECT_BINARY_DIR}/protege-config-version.cmake"
  DESTINATION ${PROTEGE_CMAKE_DIR} COMPONENT sdk)

if(PROTEGE_ENABLE_PYTHON)
  set(_py_dest protege)
  if(DEFINED SKBUILD_PLATLIB_DIR)
    set(_py_dest "${SKBUILD_PLATLIB_DIR}/protege")
  endif()
  install(TARGETS protege_core LIBRARY DESTINATION ${_py_dest} COMPONENT python NAMELINK_SKIP)
  if(PROTEGE_WITH_TORCH)
    install(TARGETS protege_torch LIBRARY DESTINATION ${_py_dest} COMPONENT python NAMELINK_SKIP)
  endif()
  install(TARGETS protege_python_core LIBRARY DESTINATION ${_py_dest} COMPONENT python)
endif()
