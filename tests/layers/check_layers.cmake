# The edges between inkstone's own layers (README, "Layers"): every `#include "lib/<x>/..."` in
# lib/<layer>/ must name the layer itself or one it depends on (lib/CMakeLists.txt), and fcgi/
# may include only lib/base and lib/http (its *_main.cpp entry points excepted). Run by ctest (layers_include_edges):
#   cmake -DSOURCE_DIR=... -DLAYERS=base,http,... -DDEPS_base= -DDEPS_ai=base,http,net ... -P
string(REPLACE "," ";" LAYERS "${LAYERS}")
foreach(layer ${LAYERS})
  string(REPLACE "," ";" DEPS_${layer} "${DEPS_${layer}}")
endforeach()
set(violations "")
function(check_dir dir allowed)
  file(GLOB files ${SOURCE_DIR}/${dir}/*.h ${SOURCE_DIR}/${dir}/*.cpp)
  # A *_main.cpp is a binary's entry point, which puts the layers together (README, "Layers").
  list(FILTER files EXCLUDE REGEX "_main\\.cpp$")
  foreach(file ${files})
    file(STRINGS ${file} includes REGEX "^#include \"lib/[a-z]+/")
    foreach(line ${includes})
      string(REGEX REPLACE "^#include \"lib/([a-z]+)/.*" "\\1" target "${line}")
      list(FIND allowed ${target} index)
      if(index EQUAL -1)
        file(RELATIVE_PATH rel ${SOURCE_DIR} ${file})
        set(violations "${violations}\n  ${rel}: ${line} (${dir} may include: ${allowed})")
      endif()
    endforeach()
  endforeach()
  set(violations "${violations}" PARENT_SCOPE)
endfunction()

foreach(layer ${LAYERS})
  set(allowed ${layer} ${DEPS_${layer}})
  check_dir(lib/${layer} "${allowed}")
endforeach()
check_dir(fcgi "base;http")

# Every folder under lib/ is a layer the build knows.
file(GLOB entries LIST_DIRECTORIES true ${SOURCE_DIR}/lib/*)
foreach(entry ${entries})
  if(IS_DIRECTORY ${entry})
    get_filename_component(name ${entry} NAME)
    list(FIND LAYERS ${name} index)
    if(index EQUAL -1)
      set(violations "${violations}\n  lib/${name}/ is not a layer in lib/CMakeLists.txt")
    endif()
  endif()
endforeach()

if(violations)
  message(FATAL_ERROR "layer edges violated:${violations}")
endif()
message(STATUS "layer edges: ok")
