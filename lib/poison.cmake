# Poisoned include directories: for each third-party library that one layer wraps, a directory
# in the build tree that mirrors the library's header names, each header an #error naming the
# layer that owns it. inkstone_poison(target owned) puts the directory of every library the
# target does not own first in its include path, so `#include <cppconn/exception.h>` outside
# lib/db fails to compile with a message instead of compiling against the system header.

set(INKSTONE_POISON_ROOT ${CMAKE_BINARY_DIR}/poison)

# inkstone_poison_library(NAME OWNER ROOT GLOB...): headers matching GLOB under ROOT.
function(inkstone_poison_library name owner root)
  set(out ${INKSTONE_POISON_ROOT}/${name})
  foreach(pattern ${ARGN})
    file(GLOB_RECURSE headers RELATIVE ${root} ${root}/${pattern})
    foreach(header ${headers})
      set(text "#error \"<${header}> is private to ${owner}: include that layer's own header (README, Layers)\"\n")
      set(path ${out}/${header})
      if(EXISTS ${path})
        file(READ ${path} old)
      else()
        set(old "")
      endif()
      if(NOT old STREQUAL text)
        file(WRITE ${path} "${text}")
      endif()
    endforeach()
  endforeach()
endfunction()

find_path(INKSTONE_CURL_INCLUDE curl/curl.h REQUIRED)
find_path(INKSTONE_OPENSSL_INCLUDE openssl/evp.h REQUIRED)
find_path(INKSTONE_OPENSSL_CONF_INCLUDE openssl/configuration.h REQUIRED)
inkstone_poison_library(mysql lib/db ${MYSQLCPPCONN_INCLUDE} cppconn/*.h mysql_connection.h
  mysql_driver.h mysql_error.h)
inkstone_poison_library(curl lib/net ${INKSTONE_CURL_INCLUDE} curl/*.h)
inkstone_poison_library(openssl lib/payments ${INKSTONE_OPENSSL_INCLUDE} openssl/*.h)
inkstone_poison_library(openssl lib/payments ${INKSTONE_OPENSSL_CONF_INCLUDE} openssl/*.h)
set(INKSTONE_POISONED_LIBRARIES mysql curl openssl)

# inkstone_poison(TARGET "OWNED..."): poison every library not in OWNED for TARGET.
function(inkstone_poison target owned)
  foreach(library ${INKSTONE_POISONED_LIBRARIES})
    list(FIND owned ${library} index)
    if(index EQUAL -1)
      target_include_directories(${target} BEFORE PRIVATE ${INKSTONE_POISON_ROOT}/${library})
    endif()
  endforeach()
endfunction()
