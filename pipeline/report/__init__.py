"""rollup → documents upward: the county's 活动总结 draft and its filled 附件1, for the upper level."""
