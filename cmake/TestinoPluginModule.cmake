# testino_plugin_module(<name> <sources>...)
# The one definition of what makes a shared object a loadable Testino plugin, used by the
# in-tree testino_add_plugin (TestinoPlugin.cmake) and, installed with the SDK package, by
# the out-of-tree one (TestinoPluginSdkHelpers.cmake):
#   - a MODULE (dlopen-ed, never linked against) named "<name>.so", without the "lib" prefix;
#   - hidden symbols: it exports only the three symbols the SDK's export macro marks;
#   - --no-undefined: it resolves every symbol itself instead of leaning on the host.
# The caller links the SDK target and says where the module goes.
function(testino_plugin_module name)
  add_library(${name} MODULE ${ARGN})
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  target_link_options(${name} PRIVATE -Wl,--no-undefined)
endfunction()
