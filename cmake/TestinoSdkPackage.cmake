# Installs the plugin SDK as a CMake package, so a plugin builds out of tree against an
# installed server:
#
#   find_package(TestinoPluginSdk CONFIG REQUIRED)
#   testino_add_plugin(my_plugin SOURCES plugin.cpp)   # or link Testino::plugin_sdk yourself
#
# Installed: include/testino/*.hpp, and lib/cmake/TestinoPluginSdk/ with the package config,
# its version file, the exported target Testino::plugin_sdk (headers, Boost headers,
# BOOST_DLL_USE_STD_FS, C++17) and the testino_add_plugin() helper.
include(CMakePackageConfigHelpers)

set(TESTINO_SDK_PACKAGE_INSTALL_DIR lib/cmake/TestinoPluginSdk)

# The ABI version plugins are stamped with, read from the header that defines it, so the
# package can report it without a second copy to keep in step.
file(STRINGS ${PROJECT_SOURCE_DIR}/core/include/testino/plugin.hpp TESTINO_ABI_LINE
     REGEX "kAbiVersion = [0-9]+")
if(NOT TESTINO_ABI_LINE MATCHES "kAbiVersion = ([0-9]+)")
  message(FATAL_ERROR "no kAbiVersion in core/include/testino/plugin.hpp")
endif()
set(TESTINO_PLUGIN_ABI_VERSION ${CMAKE_MATCH_1})

set_target_properties(testino_sdk PROPERTIES EXPORT_NAME plugin_sdk)
install(TARGETS testino_sdk EXPORT TestinoPluginSdkTargets)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/core/include/testino DESTINATION include
        FILES_MATCHING PATTERN "*.hpp")
install(EXPORT TestinoPluginSdkTargets
        NAMESPACE Testino::
        DESTINATION ${TESTINO_SDK_PACKAGE_INSTALL_DIR})

configure_package_config_file(
  ${CMAKE_CURRENT_LIST_DIR}/TestinoPluginSdkConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/TestinoPluginSdkConfig.cmake
  INSTALL_DESTINATION ${TESTINO_SDK_PACKAGE_INSTALL_DIR}
  PATH_VARS TESTINO_PLUGIN_INSTALL_DIR)
# SameMajorVersion: the SDK's headers only change incompatibly with a new major version
# (and a new plugin ABI, which the server checks at load time).
write_basic_package_version_file(
  ${CMAKE_CURRENT_BINARY_DIR}/TestinoPluginSdkConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMajorVersion)
install(FILES
          ${CMAKE_CURRENT_BINARY_DIR}/TestinoPluginSdkConfig.cmake
          ${CMAKE_CURRENT_BINARY_DIR}/TestinoPluginSdkConfigVersion.cmake
          ${CMAKE_CURRENT_LIST_DIR}/TestinoPluginSdkHelpers.cmake
          ${CMAKE_CURRENT_LIST_DIR}/TestinoPluginModule.cmake
        DESTINATION ${TESTINO_SDK_PACKAGE_INSTALL_DIR})
