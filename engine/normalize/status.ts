/**
 * Outcome of a field parser, for the offer normalizer: Empty values ("", "N/A", 0000-00-00, javascript: URLs) drop
 * the field, Invalid ones are kept as given so validation reports the offending value.
 */
export const ParseStatus = { Ok: 0, Empty: 1, Invalid: 2 } as const;
export type ParseStatus = (typeof ParseStatus)[keyof typeof ParseStatus];
