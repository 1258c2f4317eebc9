# Every third-party library comes from Debian 12's packages (scripts/setup.sh installs them).
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(OpenSSL 3 REQUIRED)
find_package(yaml-cpp 0.7 REQUIRED)
find_package(Boost 1.74 REQUIRED)  # header-only parts: Boost.DLL
find_package(RapidJSON REQUIRED CONFIG)
find_package(CURL REQUIRED)
pkg_check_modules(PISTACHE REQUIRED IMPORTED_TARGET libpistache)
pkg_check_modules(LIBJWT REQUIRED IMPORTED_TARGET libjwt)  # the unit tests verify tokens with it

# libphonenumber ships neither a CMake config nor a pkg-config file.
find_path(PHONENUMBER_INCLUDE_DIR phonenumbers/phonenumberutil.h REQUIRED)
find_library(PHONENUMBER_LIBRARY phonenumber REQUIRED)
add_library(testino_phonenumber INTERFACE)
target_include_directories(testino_phonenumber SYSTEM INTERFACE ${PHONENUMBER_INCLUDE_DIR})
target_link_libraries(testino_phonenumber INTERFACE ${PHONENUMBER_LIBRARY})
add_library(PhoneNumber::phonenumber ALIAS testino_phonenumber)

add_library(testino_rapidjson INTERFACE)
target_include_directories(testino_rapidjson SYSTEM INTERFACE ${RapidJSON_INCLUDE_DIRS})
add_library(RapidJSON::rapidjson ALIAS testino_rapidjson)

if(TESTINO_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
