# ctest driver: install this build tree into a fresh prefix, then configure, build and run
# tests/consumer against it twice: with CMake's defaults (CMAKE_CXX_STANDARD 20 only, so GNU
# extensions on) and with CMAKE_CXX_EXTENSIONS OFF. The consumer checks that it was compiled in
# the mode it is told. Variables: BUILD_DIR, SOURCE_DIR, WORK_DIR, CXX, SCAN_DEPS, BUILD_TYPE.
file(REMOVE_RECURSE ${WORK_DIR})
function(run)
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE result)
    if(NOT result EQUAL 0)
        message(FATAL_ERROR "failed (${result}): ${ARGN}")
    endif()
endfunction()

# One consumer build in ${WORK_DIR}/<name>; ARGN: extra configure arguments.
function(build_and_run_consumer name expected_mode)
    run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/consumer -B ${WORK_DIR}/${name} -G Ninja
        -DCMAKE_BUILD_TYPE=${BUILD_TYPE} -DCMAKE_CXX_COMPILER=${CXX}
        -DCMAKE_CXX_COMPILER_CLANG_SCAN_DEPS=${SCAN_DEPS} -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix ${ARGN})
    run(${CMAKE_COMMAND} --build ${WORK_DIR}/${name})
    run(${WORK_DIR}/${name}/consumer ${expected_mode})
endfunction()

run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${WORK_DIR}/prefix)
build_and_run_consumer(default gnu)
build_and_run_consumer(no-extensions strict -DCMAKE_CXX_EXTENSIONS=OFF)
