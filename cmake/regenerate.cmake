# Regenerates the gSOAP stubs from the self-contained WSDL.
#
# Usage: cmake -DWSDL=built.wsdl -DTYPEMAP=typemap.dat -DOUT_DIR=dir
#              -DIMPORT_DIR=/usr/share/gsoap/import -P regenerate.cmake
#
# wsdl2h and soapcpp2 write the names of their inputs into the output, so
# both run inside OUT_DIR on copies with fixed names: the result is the same
# on every machine and in every checkout.
find_program(WSDL2H wsdl2h REQUIRED)
find_program(SOAPCPP2 soapcpp2 REQUIRED)
file(MAKE_DIRECTORY "${OUT_DIR}")
file(COPY_FILE "${WSDL}" "${OUT_DIR}/EntitlementOrderService.wsdl")
file(COPY_FILE "${TYPEMAP}" "${OUT_DIR}/typemap.dat")
execute_process(
  COMMAND "${WSDL2H}" -c -x -P -t typemap.dat -o EntitlementOrderService.h EntitlementOrderService.wsdl
  WORKING_DIRECTORY "${OUT_DIR}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "wsdl2h failed (${rc})")
endif()
execute_process(
  COMMAND "${SOAPCPP2}" -c -x -L -I "${IMPORT_DIR}" EntitlementOrderService.h
  WORKING_DIRECTORY "${OUT_DIR}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "soapcpp2 failed (${rc})")
endif()
file(REMOVE "${OUT_DIR}/EntitlementOrderService.wsdl" "${OUT_DIR}/typemap.dat")
# Both tools stamp the time of the run into their output; drop it so that
# the same inputs always give the same files.
file(GLOB outputs "${OUT_DIR}/*")
foreach(f IN LISTS outputs)
  file(READ "${f}" text)
  string(REGEX REPLACE "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9] GMT"
         "(time of generation omitted)" stamped "${text}")
  if(NOT stamped STREQUAL text)
    file(WRITE "${f}" "${stamped}")
  endif()
endforeach()
