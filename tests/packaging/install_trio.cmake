# Shared by the install-then-consume tests: run() (a command that must succeed; its output in
# last_output) and trio from SOURCE_DIR installed into a fresh ${work}/prefix (set `work` first).
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed: ${ARGN}\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()
file(REMOVE_RECURSE "${work}")
run(${CMAKE_COMMAND} -S "${SOURCE_DIR}" -B "${work}/trio-build" -G "${GENERATOR}" -DCMAKE_CXX_COMPILER=${CXX}
    -DTRIO_BUILD_TESTS=OFF -DTRIO_BUILD_EXAMPLES=OFF -DCMAKE_INSTALL_PREFIX=${work}/prefix)
run(${CMAKE_COMMAND} --install "${work}/trio-build")
