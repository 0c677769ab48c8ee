// The global module fragment of every unit of sqlpool.postgres: sqlpool's own list, and libpq.
// Never include this after `export module`: it belongs in the fragment only.
#pragma once

#include "../detail/gmf.hpp"

#include <cmath>

#include <libpq-fe.h>
#include <poll.h>
