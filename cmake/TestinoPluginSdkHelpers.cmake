# testino_add_plugin(<name> SOURCES ... [OUTPUT_DIR dir])
# The out-of-tree counterpart of the server's own helper (installed with the SDK package):
# a loadable module <name>.so linked to Testino::plugin_sdk, installed by `cmake --install`
# into <prefix>/lib/testino/plugins, where a server installed in the same prefix finds it.
include(${CMAKE_CURRENT_LIST_DIR}/TestinoPluginModule.cmake)

function(testino_add_plugin name)
  cmake_parse_arguments(ARG "" "OUTPUT_DIR" "SOURCES" ${ARGN})
  testino_plugin_module(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE Testino::plugin_sdk)
  if(ARG_OUTPUT_DIR)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIR})
  endif()
  install(TARGETS ${name} LIBRARY DESTINATION lib/testino/plugins)
endfunction()
