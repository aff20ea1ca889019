# Writes the schema of one version of EntitlementOrderService from the one
# source in schemas/: elements marked ver:from="N" are left out of versions
# before N; elements marked ver:old-name="X" ver:old-until="M" are named X
# in versions up to M; the marks and their namespace declaration go. The
# namespace stays v4's (the daemon puts each version's in when it serves or
# loads it).
#
# Usage: cmake -DXSD=in.xsd -DVERSION=N -DOUT=out.xsd -P version_schema.cmake
file(READ "${XSD}" text)
foreach(n 2 3 4)
  if(VERSION LESS n)
    string(REGEX REPLACE "\n[ \t]*<xsd:element[^>]* ver:from=\"${n}\"[^>]*/>" "" text "${text}")
  endif()
endforeach()
string(REGEX REPLACE " ver:from=\"[0-9]+\"" "" text "${text}")
foreach(m 1 2 3)
  if(NOT VERSION GREATER m)
    string(REGEX REPLACE "name=\"[A-Za-z]+\"([^>]*) ver:old-name=\"([A-Za-z]+)\" ver:old-until=\"${m}\""
           "name=\"\\2\"\\1" text "${text}")
  endif()
endforeach()
string(REGEX REPLACE " ver:old-name=\"[A-Za-z]+\" ver:old-until=\"[0-9]+\"" "" text "${text}")
string(REGEX REPLACE "\n[ \t]*xmlns:ver=\"[^\"]*\"" "" text "${text}")
if(text MATCHES "<xsd:[^>]* ver:")
  message(FATAL_ERROR "${XSD}: a version mark this script does not know")
endif()
file(WRITE "${OUT}.tmp" "${text}")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
