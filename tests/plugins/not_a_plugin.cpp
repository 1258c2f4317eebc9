// not_a_plugin.so: a loadable shared library without any of the plugin symbols.
extern "C" __attribute__((visibility("default"))) int testino_not_a_plugin_marker() { return 42; }
