# Fails when generated/ differs from what the `regenerate` target makes.
#
# Usage: cmake -DWSDL= -DTYPEMAP= -DIMPORT_DIR= -DGENERATED= -DSCRATCH= -DREGENERATE= -P check_generated.cmake
file(REMOVE_RECURSE "${SCRATCH}")
execute_process(
  COMMAND "${CMAKE_COMMAND}" -DWSDL=${WSDL} -DTYPEMAP=${TYPEMAP} -DOUT_DIR=${SCRATCH}
          -DIMPORT_DIR=${IMPORT_DIR} -P "${REGENERATE}"
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "regeneration failed")
endif()
file(GLOB fresh RELATIVE "${SCRATCH}" "${SCRATCH}/*")
file(GLOB committed RELATIVE "${GENERATED}" "${GENERATED}/*")
list(SORT fresh)
list(SORT committed)
if(NOT fresh STREQUAL committed)
  message(FATAL_ERROR "generated/ holds [${committed}] but regeneration makes [${fresh}]; "
                      "run: cmake --build build --target regenerate")
endif()
foreach(f IN LISTS fresh)
  file(SHA256 "${SCRATCH}/${f}" a)
  file(SHA256 "${GENERATED}/${f}" b)
  if(NOT a STREQUAL b)
    message(FATAL_ERROR "generated/${f} is stale; run: cmake --build build --target regenerate")
  endif()
endforeach()
message(STATUS "generated/ is up to date (${fresh})")
