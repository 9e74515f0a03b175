# Installs trio from SOURCE_DIR into a fresh prefix, then builds and runs the find_package consumer.
set(work "${BINARY_DIR}/find_package_work")
file(REMOVE_RECURSE "${work}")
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed: ${ARGN}\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()
run(${CMAKE_COMMAND} -S "${SOURCE_DIR}" -B "${work}/trio-build" -G "${GENERATOR}" -DCMAKE_CXX_COMPILER=${CXX}
    -DTRIO_BUILD_TESTS=OFF -DTRIO_BUILD_EXAMPLES=OFF -DCMAKE_INSTALL_PREFIX=${work}/prefix)
run(${CMAKE_COMMAND} --install "${work}/trio-build")
run(${CMAKE_COMMAND} -S "${SOURCE_DIR}/tests/packaging/find_package" -B "${work}/consumer-build" -G "${GENERATOR}"
    -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_PREFIX_PATH=${work}/prefix)
run(${CMAKE_COMMAND} --build "${work}/consumer-build")
run("${work}/consumer-build/consumer")
message(STATUS "${last_output}")
