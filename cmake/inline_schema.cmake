# Builds the self-contained WSDL that the daemon serves and wsdl2h reads:
# the WSDL in wsdl/ includes schemas/EntitlementOrderService.xsd; this
# replaces that include with the schema itself.
#
# Usage: cmake -DWSDL=in.wsdl -DXSD=in.xsd -DOUT=out.wsdl -P inline_schema.cmake
file(READ "${WSDL}" wsdl)
file(READ "${XSD}" xsd)
# Drop the XML declaration and leading comments of the schema document.
string(REGEX REPLACE "^.*(<xsd:schema[ \t\r\n])" "\\1" xsd "${xsd}")
string(REGEX MATCH "<xsd:schema[^>]*>[ \t\r\n]*<xsd:include[^>]*/>[ \t\r\n]*</xsd:schema>" block "${wsdl}")
if(block STREQUAL "")
  message(FATAL_ERROR "${WSDL}: no <xsd:schema><xsd:include/></xsd:schema> block to inline")
endif()
string(STRIP "${xsd}" xsd)
string(REPLACE "${block}" "${xsd}" wsdl "${wsdl}")
file(WRITE "${OUT}.tmp" "${wsdl}")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
