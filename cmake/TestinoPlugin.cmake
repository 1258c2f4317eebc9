# testino_add_plugin(<name> SOURCES ... [OUTPUT_DIR dir])
# Builds a plugin as a loadable module named <name>.so in the plugin directory, linked
# against the SDK only (plus whatever the caller adds with target_link_libraries).
# Out of tree, the installed SDK package offers the same function (TestinoPluginSdkHelpers.cmake).
include(${CMAKE_CURRENT_LIST_DIR}/TestinoPluginModule.cmake)

function(testino_add_plugin name)
  cmake_parse_arguments(ARG "" "OUTPUT_DIR" "SOURCES" ${ARGN})
  if(NOT ARG_OUTPUT_DIR)
    set(ARG_OUTPUT_DIR ${TESTINO_PLUGIN_OUTPUT_DIR})
  endif()
  testino_plugin_module(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE testino::sdk testino::build_flags)
  set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIR})
  if(ARG_OUTPUT_DIR STREQUAL TESTINO_PLUGIN_OUTPUT_DIR)
    add_dependencies(testino_plugins ${name})
    install(TARGETS ${name} LIBRARY DESTINATION ${TESTINO_PLUGIN_INSTALL_DIR})
  endif()
endfunction()

# Every production plugin, for `cmake --build build --target testino_plugins`.
if(NOT TARGET testino_plugins)
  add_custom_target(testino_plugins)
endif()
