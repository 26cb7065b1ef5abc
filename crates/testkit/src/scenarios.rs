//! The list of scenarios, one line each, handed to a generating macro. A unit test checks
//! it against the `pub async fn …(b: &dyn Backend)` items of every scenario module.

/// Expand `$crate::__tests!` (`@tests make`) or list the names (`@names`).
#[doc(hidden)]
#[macro_export]
macro_rules! __scenarios {
    ($($mode:tt)*) => {
        $crate::__dispatch! {($($mode)*)
        smoke: [
            every_request_kind_runs,
        ],
        charts: [
            dst_spring_forward_daily_buckets_stockholm,
            dst_fall_back_hourly_buckets_stockholm,
            minute_interval,
            hour_interval_utc,
            week_interval_starts_monday,
            month_interval_stockholm,
            half_hour_offset_buckets_kolkata,
            day_without_local_midnight_santiago,
            every_range_name_and_alias,
            month_ranges_clamp_the_day,
            all_time_starts_at_the_projects_first_event,
            no_data_yields_one_all_zero_series,
            empty_buckets_are_filled_with_zero,
            not_set_labels_for_empty_and_missing_values,
            numeric_breakdowns_print_shortest_decimals,
            numeric_breakdown_never_uses_exponent_notation,
            numeric_breakdown_keeps_all_significant_digits,
            count_segments,
            user_average_without_profiles_is_zero,
            one_event_per_user_uses_latest_event_bucket_and_breakdown,
            property_segments_skip_non_numbers,
            every_segment_in_one_request,
            every_segment_in_one_request_with_breakdown,
            property_values_round_half_away_from_zero,
            breakdown_top_n_limit_offset_and_total_series,
            ties_are_broken_by_code_point,
            two_breakdowns_and_camel_case_keys,
            series_sorting_by_metric_and_chart_type,
            series_ids_transliterate_and_deduplicate,
            metrics_and_top_level_aggregation,
            previous_rolling_window,
            previous_for_explicit_dates,
            previous_periods_to_date,
            previous_complete_periods,
            previous_top_level_metrics,
            previous_diff_rounds_half_away_from_zero,
            one_event_per_user_with_previous_period,
            previous_rolling_window_across_dst,
            previous_today_on_a_dst_day,
            several_configs_with_wildcard_and_display_names,
            several_configs_with_breakdowns,
        ],
        events: [
            default_fields_in_contract_order,
            createdat_formatting_keeps_milliseconds,
            includes_add_fields,
            unknown_include_is_rejected,
            profile_and_meta_objects,
            order_is_created_at_desc_then_id_asc,
            pages_never_repeat_or_skip,
            pages_through_a_long_tie,
            page_and_limit_edges,
            empty_result_meta,
            event_name_filter,
            filters_param_and_counts,
            start_and_end_dates_are_inclusive_days,
            timezone_changes_what_a_date_means,
            dates_across_daylight_saving_changes,
            start_after_end_is_rejected,
            profile_id_filter,
            project_scoping,
        ],
        filters: [
            string_column_operators,
            regex_operator,
            regex_perl_classes_follow_re2,
            case_sensitivity_on_every_text_operator,
            property_fields_and_dotted_keys,
            number_recognition_for_comparisons,
            comparisons_on_a_string_column,
            numeric_column_duration,
            nullable_numeric_columns,
            has_profile_true_and_false,
            values_are_compared_as_text,
            percent_underscore_backslash_are_literal,
            filters_are_anded_and_combine_with_other_params,
            hostile_event_names,
            hostile_filter_values,
            hostile_property_keys,
            hostile_breakdown_property_keys,
            hostile_regex_patterns,
        ],
        funnel: [
            two_steps_one_third,
            three_steps_with_display_names,
            five_steps,
            funnel_group_session_or_profile_two_steps,
            funnel_group_four_steps,
            same_millisecond_does_not_advance,
            a_new_start_in_the_same_millisecond_keeps_the_older_chain,
            funnel_window_one_hour_boundary,
            funnel_window_decimal_and_default,
            later_chain_start_reaches_deeper,
            step_filters,
            events_outside_the_time_window_are_ignored,
            zero_entrants_are_all_zeros,
            rounding_of_halves,
        ],
        funnel_options: [
            funnel_ties_in_ordered_and_strict_order,
            funnel_any_order,
            funnel_breakdown_attribution,
            funnel_breakdown_attribution_without_step_2,
            funnel_conversion_over_time_on_a_dst_day,
            funnel_entrant_with_several_chains,
            funnel_time_to_convert_odd_count_and_empty_step,
            funnel_exclusions_at_the_chain_edges,
            funnel_many_steps_with_exclusions,
            funnel_alternatives_matching_several_steps,
            funnel_entry_range_and_pending_entrants,
            funnel_previous_period_values,
            generated_data_agrees_with_the_brute_force_reference,
        ],
        import: [
            hostile_text_round_trips,
            large_values_round_trip,
            numbers_and_times_round_trip,
            reimport_is_harmless,
            large_load_round_trips,
            failed_large_load_leaves_nothing,
            hostile_profiles_round_trip,
        ],
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __dispatch {
    ((@tests $make:path) $($rest:tt)*) => {
        $crate::__tests!($make; $($rest)*);
    };
    ((@names) $($module:ident: [$($name:ident),* $(,)?]),* $(,)?) => {
        &[$($((stringify!($module), stringify!($name))),*),*]
    };
}

#[cfg(test)]
mod tests {
    /// Every scenario function is listed exactly once, and nothing else is.
    #[test]
    fn every_scenario_is_listed() {
        let sources = [
            ("smoke", include_str!("smoke.rs")),
            ("charts", include_str!("charts/mod.rs")),
            ("charts", include_str!("charts/dst.rs")),
            ("charts", include_str!("charts/intervals.rs")),
            ("charts", include_str!("charts/ranges.rs")),
            ("charts", include_str!("charts/buckets.rs")),
            ("charts", include_str!("charts/segments.rs")),
            ("charts", include_str!("charts/breakdowns.rs")),
            ("charts", include_str!("charts/previous.rs")),
            ("charts", include_str!("charts/configs.rs")),
            ("events", include_str!("events.rs")),
            ("filters", include_str!("filters/mod.rs")),
            ("filters", include_str!("filters/operators.rs")),
            ("filters", include_str!("filters/fields.rs")),
            ("filters", include_str!("filters/values.rs")),
            ("filters", include_str!("filters/hostile.rs")),
            ("funnel", include_str!("funnel.rs")),
            ("funnel_options", include_str!("funnel_options.rs")),
            ("import", include_str!("import.rs")),
        ];
        let mut defined = Vec::new();
        for (module, text) in sources {
            for line in text.lines() {
                let Some(rest) = line.strip_prefix("pub async fn ") else {
                    continue;
                };
                let name = rest.split('(').next().unwrap_or_default();
                assert!(
                    rest.contains("(b: &dyn Backend)") || rest.contains("(_b: &dyn Backend)"),
                    "{module}::{name}: a scenario takes exactly `b: &dyn Backend`"
                );
                defined.push((module, name));
            }
        }
        let listed: &[(&str, &str)] = crate::__scenarios!(@names);
        let mut listed = listed.to_vec();
        listed.sort();
        defined.sort();
        assert_eq!(listed, defined);
    }
}
