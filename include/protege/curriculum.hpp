/// @file curriculum.hpp
/// Umbrella header of the curriculum module (TAPIR and FDD scheduling, rebalancing and the
/// resumable sampler). See docs/curriculum.md.
#pragma once

#include "protege/curriculum/category.hpp"
#include "protege/curriculum/difficulty.hpp"
#include "protege/curriculum/feedback.hpp"
#include "protege/curriculum/item.hpp"
#include "protege/curriculum/planner.hpp"
#include "protege/curriculum/rebalance.hpp"
#include "protege/curriculum/sampler.hpp"
#include "protege/curriculum/schedule.hpp"
