/** The syntax layer (docs/verdicts.md, "Syntax"): pure parsing, normalisation and typo suggestion. */
export {
  parseAddress,
  MAX_DOMAIN_OCTETS,
  MAX_INPUT_LENGTH,
  MAX_LABEL_OCTETS,
  MAX_LOCAL_PART_OCTETS,
  MAX_PATH_OCTETS,
} from './parse-address.js';
export { suggestAddress, suggestDomain, suggestionFor } from './suggest-address.js';
export { editDistance } from './edit-distance.js';
