/// @file pairs.hpp
/// Umbrella header of the pairs module: preference data from a student's own sampled rationales
/// (grade, de-duplicate, pair, emit) and teacher-as-critic judging support. See docs/pairs.md.
#pragma once

#include "protege/pairs/config.hpp"        // IWYU pragma: export
#include "protege/pairs/critic.hpp"        // IWYU pragma: export
#include "protege/pairs/output.hpp"        // IWYU pragma: export
#include "protege/pairs/pair_builder.hpp"  // IWYU pragma: export
#include "protege/pairs/types.hpp"         // IWYU pragma: export
