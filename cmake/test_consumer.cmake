# ctest driver: install this build tree into a fresh prefix, then configure, build and run
# tests/consumer against it with CMake's defaults (CMAKE_CXX_STANDARD 20 only, so GNU extensions
# on), the case where the package must make the mode match by itself. The consumer checks that it
# was compiled in the mode it is told. With CMAKE_CXX_EXTENSIONS OFF the consumer is configured
# only: its CMakeLists checks that the package gave the imported target that mode (a second build
# of every module interface would add minutes and test CMake, not sqlpool).
# Variables: BUILD_DIR, SOURCE_DIR, WORK_DIR, CXX, SCAN_DEPS, BUILD_TYPE, CONFIG_FLAGS (the tree's
# flags for that build type), SANITIZE (the tree's SQLPOOL_SANITIZE: the installed library is
# instrumented, so the consumer must be too), PG_STATE (the pg_cluster fixture's state directory,
# when the tree builds sqlpool.postgres: the postgres component is built and run against it).
file(REMOVE_RECURSE ${WORK_DIR})
function(run)
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE result)
    if(NOT result EQUAL 0)
        message(FATAL_ERROR "failed (${result}): ${ARGN}")
    endif()
endfunction()

string(TOUPPER "${BUILD_TYPE}" build_type)
set(flags "-DCMAKE_CXX_FLAGS_${build_type}=${CONFIG_FLAGS}")
if(SANITIZE)
    list(APPEND flags "-DCMAKE_CXX_FLAGS=-fsanitize=${SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all"
                       "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=${SANITIZE}")
endif()

# Configures the consumer in ${WORK_DIR}/<name>; ARGN: extra configure arguments.
function(configure_consumer name)
    run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/consumer -B ${WORK_DIR}/${name} -G Ninja
        -DCMAKE_BUILD_TYPE=${BUILD_TYPE} -DCMAKE_CXX_COMPILER=${CXX}
        -DCMAKE_CXX_COMPILER_CLANG_SCAN_DEPS=${SCAN_DEPS} -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix
        ${flags} ${ARGN})
endfunction()

run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${WORK_DIR}/prefix)
configure_consumer(no-extensions -DCMAKE_CXX_EXTENSIONS=OFF)
if(PG_STATE)
    configure_consumer(default -DWITH_POSTGRES=ON)
else()
    configure_consumer(default)
endif()
run(${CMAKE_COMMAND} --build ${WORK_DIR}/default)
run(${WORK_DIR}/default/consumer gnu)
if(PG_STATE)
    # The component against the pg_cluster fixture's primary.
    file(STRINGS ${PG_STATE}/primary.conninfo conninfo LIMIT_COUNT 1)
    run(${WORK_DIR}/default/consumer_postgres "${conninfo} sslmode=disable gssencmode=disable")
endif()
