// SPDX-License-Identifier: BSD-2-Clause
#include "lib/test.h"
#include "edgeward.h"

