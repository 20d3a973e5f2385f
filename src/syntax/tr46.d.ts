// tr46 6.x ships no types. Only what src/syntax/idna.ts uses is declared; see the package README.
declare module 'tr46' {
  export interface Tr46Options {
    readonly checkBidi?: boolean;
    readonly checkHyphens?: boolean;
    readonly checkJoiners?: boolean;
    readonly ignoreInvalidPunycode?: boolean;
    readonly transitionalProcessing?: boolean;
    readonly useSTD3ASCIIRules?: boolean;
    readonly verifyDNSLength?: boolean;
  }
  /** The A-label form of a domain, or `null` when UTS #46 processing finds an error. */
  export function toASCII(domainName: string, options?: Tr46Options): string | null;
  /** The U-label form of a domain, with `error` set when UTS #46 processing finds an error. */
  export function toUnicode(
    domainName: string,
    options?: Tr46Options,
  ): { readonly domain: string; readonly error: boolean };
}
