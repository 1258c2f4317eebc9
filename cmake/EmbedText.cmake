# cmake -DINPUT=file -DOUTPUT=file.cpp -P EmbedText.cmake
# Writes a C++ source defining testino::openapi_document() from a text file.
file(READ ${INPUT} content)
set(delimiter "TESTINO_EMBED")
file(WRITE ${OUTPUT}
  "// Generated from ${INPUT}; do not edit.\n"
  "#include <string_view>\n"
  "namespace testino {\n"
  "std::string_view openapi_document() {\n"
  "    static constexpr std::string_view text = R\"${delimiter}(${content})${delimiter}\";\n"
  "    return text;\n"
  "}\n"
  "}  // namespace testino\n")
