# cmake -DINPUT=file -DOUTPUT=file.cpp -P EmbedText.cmake
# Writes a C++ source defining testino::openapi_document() from a text file. The text goes in
# raw string literals of at most ~16 KB, cut at line ends: C++ compilers need only accept
# 65,536 characters in one literal, and clang warns beyond that.
file(READ ${INPUT} content)
set(delimiter "TESTINO_EMBED")
set(parts "")
while(NOT content STREQUAL "")
  string(LENGTH "${content}" length)
  if(length LESS_EQUAL 16000)
    set(chunk "${content}")
    set(content "")
  else()
    string(SUBSTRING "${content}" 0 16000 window)
    string(FIND "${window}" "\n" cut REVERSE)
    if(cut LESS 0)
      set(cut 15999)
    endif()
    math(EXPR cut "${cut} + 1")
    string(SUBSTRING "${content}" 0 ${cut} chunk)
    string(SUBSTRING "${content}" ${cut} -1 content)
  endif()
  string(APPEND parts "        R\"${delimiter}(${chunk})${delimiter}\",\n")
endwhile()
file(WRITE ${OUTPUT}
  "// Generated from ${INPUT}; do not edit.\n"
  "#include <string>\n"
  "#include <string_view>\n"
  "namespace testino {\n"
  "std::string_view openapi_document() {\n"
  "    static const char* const parts[] = {\n"
  "${parts}"
  "    };\n"
  "    static const std::string text = [] {\n"
  "        std::string all;\n"
  "        for (const char* part : parts) all += part;\n"
  "        return all;\n"
  "    }();\n"
  "    return text;\n"
  "}\n"
  "}  // namespace testino\n")
