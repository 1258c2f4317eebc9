# testino_add_plugin(<name> SOURCES ...)
# Builds a plugin as a loadable module named <name>.so in the plugin directory, linked
# against the SDK only (plus whatever the caller adds with target_link_libraries).
function(testino_add_plugin name)
  cmake_parse_arguments(ARG "" "OUTPUT_DIR" "SOURCES" ${ARGN})
  if(NOT ARG_OUTPUT_DIR)
    set(ARG_OUTPUT_DIR ${TESTINO_PLUGIN_OUTPUT_DIR})
  endif()
  add_library(${name} MODULE ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE testino::sdk testino::build_flags)
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    LIBRARY_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIR})
  # A plugin must resolve every symbol itself, not lean on the host.
  target_link_options(${name} PRIVATE -Wl,--no-undefined)
  if(ARG_OUTPUT_DIR STREQUAL TESTINO_PLUGIN_OUTPUT_DIR)
    add_dependencies(testino_plugins ${name})
    install(TARGETS ${name} LIBRARY DESTINATION ${TESTINO_PLUGIN_INSTALL_DIR})
  endif()
endfunction()

# Every production plugin, for `cmake --build build --target testino_plugins`.
if(NOT TARGET testino_plugins)
  add_custom_target(testino_plugins)
endif()
