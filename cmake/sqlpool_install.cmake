# `cmake --install` puts the library, its module interface units and a CMake package under the
# prefix, so that a consumer can `find_package(sqlpool)` and `import sqlpool;`.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(SQLPOOL_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/sqlpool)

install(TARGETS sqlpool EXPORT sqlpoolTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    FILE_SET CXX_MODULES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/sqlpool
    FILE_SET gmf DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/sqlpool)
install(EXPORT sqlpoolTargets
    NAMESPACE sqlpool::
    DESTINATION ${SQLPOOL_INSTALL_CMAKEDIR}
    CXX_MODULES_DIRECTORY cxx-modules)

# sqlpool.postgres: a component (find_package(sqlpool COMPONENTS postgres)) with targets of its own,
# so that a SQLite-only consumer needs no libpq.
if(SQLPOOL_WITH_POSTGRES)
    install(TARGETS sqlpool_postgres EXPORT sqlpoolPostgresTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        FILE_SET CXX_MODULES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/sqlpool
        FILE_SET gmf DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/sqlpool)
    install(EXPORT sqlpoolPostgresTargets
        NAMESPACE sqlpool::
        DESTINATION ${SQLPOOL_INSTALL_CMAKEDIR}
        CXX_MODULES_DIRECTORY cxx-modules-postgres)
endif()

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/sqlpoolConfig.cmake.in
    ${CMAKE_CURRENT_BINARY_DIR}/sqlpoolConfig.cmake
    INSTALL_DESTINATION ${SQLPOOL_INSTALL_CMAKEDIR})
# 0.x: a minor version may break the API (see README, "Versions").
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/sqlpoolConfigVersion.cmake
    VERSION ${PROJECT_VERSION}
    COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/sqlpoolConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/sqlpoolConfigVersion.cmake
    DESTINATION ${SQLPOOL_INSTALL_CMAKEDIR})
