// $formatNumber (XPath F&O 4.7 format-number), ported from the `jsonata` package (MIT) statement for
// statement, with one change: the picture string's analysis (the costly part, and the same for every
// record of a mapping) is cached per picture and options, as jsonata's own source notes it could be.
/* eslint-disable @typescript-eslint/no-explicit-any */
type Any = any;

interface Analysis { properties: Record<string, Any>; decimalDigitFamily: string[]; variables: Any[] }

const cache = new Map<string, Analysis>();
const CACHE_SIZE = 256;

export function formatNumberWith(round: (arg: Any, precision: Any) => Any) {
  return function formatNumber(value: Any, picture: Any, options: Any): Any {
    if (value === undefined) return undefined;
    const a = analysis(picture, options);
    return format(a, value, round);
  };
}

function analysis(picture: Any, options: Any): Analysis {
  let key: string | undefined;
  if (typeof picture === 'string') {
    if (options === undefined) key = picture;
    else if (isPlainStrings(options)) key = `${picture}\u0000${JSON.stringify(options)}`;
  }
  if (key !== undefined) {
    const hit = cache.get(key);
    if (hit) return hit;
  }
  const a = analyse(picture, options);
  if (key !== undefined) {
    if (cache.size >= CACHE_SIZE) cache.clear();
    cache.set(key, a);
  }
  return a;
}

const isPlainStrings = (o: Any): boolean => o !== null && typeof o === 'object' && !Array.isArray(o)
  && Object.keys(o).every((k) => typeof o[k] === 'string');

function analyse(picture: Any, options: Any): Analysis {
  const defaults: Record<string, Any> = {
    'decimal-separator': '.',
    'grouping-separator': ',',
    'exponent-separator': 'e',
    infinity: 'Infinity',
    'minus-sign': '-',
    NaN: 'NaN',
    percent: '%',
    'per-mille': '\u2030',
    'zero-digit': '0',
    digit: '#',
    'pattern-separator': ';',
  };
  const properties = defaults;
  if (options !== undefined) {
    for (const key of typeof options === 'object' && options !== null ? Object.keys(options) : []) properties[key] = options[key];
  }
  const decimalDigitFamily: string[] = [];
  const zeroCharCode = properties['zero-digit'].charCodeAt(0);
  for (let ii = zeroCharCode; ii < zeroCharCode + 10; ii++) decimalDigitFamily.push(String.fromCharCode(ii));
  const activeChars = decimalDigitFamily.concat([properties['decimal-separator'], properties['exponent-separator'], properties['grouping-separator'], properties.digit, properties['pattern-separator']]);
  const subPictures = picture.split(properties['pattern-separator']);
  if (subPictures.length > 2) throw { code: 'D3080' };

  const splitParts = (subpicture: string) => {
    const prefix = (() => {
      for (let ii = 0; ii < subpicture.length; ii++) {
        const ch = subpicture.charAt(ii);
        if (activeChars.indexOf(ch) !== -1 && ch !== properties['exponent-separator']) return subpicture.substring(0, ii);
      }
      return '';
    })();
    const suffix = (() => {
      for (let ii = subpicture.length - 1; ii >= 0; ii--) {
        const ch = subpicture.charAt(ii);
        if (activeChars.indexOf(ch) !== -1 && ch !== properties['exponent-separator']) return subpicture.substring(ii + 1);
      }
      return '';
    })();
    const activePart = subpicture.substring(prefix.length, subpicture.length - suffix.length);
    let mantissaPart: string;
    let exponentPart: string | undefined;
    let integerPart: string;
    let fractionalPart: string;
    const exponentPosition = subpicture.indexOf(properties['exponent-separator'], prefix.length);
    if (exponentPosition === -1 || exponentPosition > subpicture.length - suffix.length) {
      mantissaPart = activePart;
      exponentPart = undefined;
    } else {
      mantissaPart = activePart.substring(0, exponentPosition);
      exponentPart = activePart.substring(exponentPosition + 1);
    }
    const decimalPosition = mantissaPart.indexOf(properties['decimal-separator']);
    if (decimalPosition === -1) {
      integerPart = mantissaPart;
      fractionalPart = suffix;
    } else {
      integerPart = mantissaPart.substring(0, decimalPosition);
      fractionalPart = mantissaPart.substring(decimalPosition + 1);
    }
    return { prefix, suffix, activePart, mantissaPart, exponentPart, integerPart, fractionalPart, subpicture };
  };

  const validate = (parts: Any) => {
    let error: string | undefined;
    const subpicture = parts.subpicture;
    const decimalPos = subpicture.indexOf(properties['decimal-separator']);
    if (decimalPos !== subpicture.lastIndexOf(properties['decimal-separator'])) error = 'D3081';
    if (subpicture.indexOf(properties.percent) !== subpicture.lastIndexOf(properties.percent)) error = 'D3082';
    if (subpicture.indexOf(properties['per-mille']) !== subpicture.lastIndexOf(properties['per-mille'])) error = 'D3083';
    if (subpicture.indexOf(properties.percent) !== -1 && subpicture.indexOf(properties['per-mille']) !== -1) error = 'D3084';
    let valid = false;
    for (let ii = 0; ii < parts.mantissaPart.length; ii++) {
      const ch = parts.mantissaPart.charAt(ii);
      if (decimalDigitFamily.indexOf(ch) !== -1 || ch === properties.digit) { valid = true; break; }
    }
    if (!valid) error = 'D3085';
    const charTypes = parts.activePart.split('').map((char: string) => (activeChars.indexOf(char) === -1 ? 'p' : 'a')).join('');
    if (charTypes.indexOf('p') !== -1) error = 'D3086';
    if (decimalPos !== -1) {
      if (subpicture.charAt(decimalPos - 1) === properties['grouping-separator'] || subpicture.charAt(decimalPos + 1) === properties['grouping-separator']) error = 'D3087';
    } else if (parts.integerPart.charAt(parts.integerPart.length - 1) === properties['grouping-separator']) {
      error = 'D3088';
    }
    if (subpicture.indexOf(properties['grouping-separator'] + properties['grouping-separator']) !== -1) error = 'D3089';
    let optionalDigitPos = parts.integerPart.indexOf(properties.digit);
    if (optionalDigitPos !== -1 && parts.integerPart.substring(0, optionalDigitPos).split('').filter((char: string) => decimalDigitFamily.indexOf(char) > -1).length > 0) error = 'D3090';
    optionalDigitPos = parts.fractionalPart.lastIndexOf(properties.digit);
    if (optionalDigitPos !== -1 && parts.fractionalPart.substring(optionalDigitPos).split('').filter((char: string) => decimalDigitFamily.indexOf(char) > -1).length > 0) error = 'D3091';
    const exponentExists = typeof parts.exponentPart === 'string';
    if (exponentExists && parts.exponentPart.length > 0 && (subpicture.indexOf(properties.percent) !== -1 || subpicture.indexOf(properties['per-mille']) !== -1)) error = 'D3092';
    if (exponentExists && (parts.exponentPart.length === 0 || parts.exponentPart.split('').filter((char: string) => decimalDigitFamily.indexOf(char) === -1).length > 0)) error = 'D3093';
    if (error) throw { code: error };
  };

  const analysePart = (parts: Any) => {
    const getGroupingPositions = (part: string, toLeft?: boolean) => {
      const positions: number[] = [];
      let groupingPosition = part.indexOf(properties['grouping-separator']);
      while (groupingPosition !== -1) {
        const charsToTheRight = (toLeft ? part.substring(0, groupingPosition) : part.substring(groupingPosition)).split('')
          .filter((char) => decimalDigitFamily.indexOf(char) !== -1 || char === properties.digit).length;
        positions.push(charsToTheRight);
        groupingPosition = parts.integerPart.indexOf(properties['grouping-separator'], groupingPosition + 1);
      }
      return positions;
    };
    const integerPartGroupingPositions = getGroupingPositions(parts.integerPart);
    const regular = (indexes: number[]) => {
      if (indexes.length === 0) return 0;
      const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
      const factor = indexes.reduce(gcd);
      for (let index = 1; index <= indexes.length; index++) if (indexes.indexOf(index * factor) === -1) return 0;
      return factor;
    };
    const regularGrouping = regular(integerPartGroupingPositions);
    const fractionalPartGroupingPositions = getGroupingPositions(parts.fractionalPart, true);
    let minimumIntegerPartSize = parts.integerPart.split('').filter((char: string) => decimalDigitFamily.indexOf(char) !== -1).length;
    const scalingFactor = minimumIntegerPartSize;
    const fractionalPartArray = parts.fractionalPart.split('');
    let minimumFactionalPartSize = fractionalPartArray.filter((char: string) => decimalDigitFamily.indexOf(char) !== -1).length;
    let maximumFactionalPartSize = fractionalPartArray.filter((char: string) => decimalDigitFamily.indexOf(char) !== -1 || char === properties.digit).length;
    const exponentPresent = typeof parts.exponentPart === 'string';
    if (minimumIntegerPartSize === 0 && maximumFactionalPartSize === 0) {
      if (exponentPresent) {
        minimumFactionalPartSize = 1;
        maximumFactionalPartSize = 1;
      } else {
        minimumIntegerPartSize = 1;
      }
    }
    if (exponentPresent && minimumIntegerPartSize === 0 && parts.integerPart.indexOf(properties.digit) !== -1) minimumIntegerPartSize = 1;
    if (minimumIntegerPartSize === 0 && minimumFactionalPartSize === 0) minimumFactionalPartSize = 1;
    let minimumExponentSize = 0;
    if (exponentPresent) minimumExponentSize = parts.exponentPart.split('').filter((char: string) => decimalDigitFamily.indexOf(char) !== -1).length;
    return {
      integerPartGroupingPositions, regularGrouping, minimumIntegerPartSize, scalingFactor, prefix: parts.prefix,
      fractionalPartGroupingPositions, minimumFactionalPartSize, maximumFactionalPartSize, minimumExponentSize,
      suffix: parts.suffix, picture: parts.subpicture,
    };
  };

  const parts = subPictures.map(splitParts);
  parts.forEach(validate);
  const variables = parts.map(analysePart);
  if (variables.length === 1) {
    variables.push(JSON.parse(JSON.stringify(variables[0])));
    variables[1].prefix = properties['minus-sign'] + variables[1].prefix;
  }
  return { properties: { ...properties }, decimalDigitFamily, variables };
}

function format(a: Analysis, value: Any, round: (arg: Any, precision: Any) => Any): string {
  const { properties, decimalDigitFamily, variables } = a;
  const minusSign = properties['minus-sign'];
  const zeroDigit = properties['zero-digit'];
  const decimalSeparator = properties['decimal-separator'];
  const groupingSeparator = properties['grouping-separator'];
  const pic = value >= 0 ? variables[0] : variables[1];
  let adjustedNumber: number;
  if (pic.picture.indexOf(properties.percent) !== -1) adjustedNumber = value * 100;
  else if (pic.picture.indexOf(properties['per-mille']) !== -1) adjustedNumber = value * 1000;
  else adjustedNumber = value;
  let mantissa: number;
  let exponent: number | undefined;
  if (pic.minimumExponentSize === 0) {
    mantissa = adjustedNumber;
  } else {
    const maxMantissa = Math.pow(10, pic.scalingFactor);
    const minMantissa = Math.pow(10, pic.scalingFactor - 1);
    mantissa = adjustedNumber;
    exponent = 0;
    if (mantissa !== 0) {
      while (Math.abs(mantissa) < minMantissa) { mantissa *= 10; exponent -= 1; }
      while (Math.abs(mantissa) > maxMantissa) { mantissa /= 10; exponent += 1; }
    }
  }
  const roundedNumber = round(mantissa, pic.maximumFactionalPartSize);
  const makeString = (v: number, dp: number) => {
    let str = Math.abs(v).toFixed(dp);
    if (zeroDigit !== '0') {
      str = str.split('').map((digit) => (digit >= '0' && digit <= '9' ? decimalDigitFamily[digit.charCodeAt(0) - 48] : digit)).join('');
    }
    return str;
  };
  let stringValue = makeString(roundedNumber, pic.maximumFactionalPartSize);
  let decimalPos = stringValue.indexOf('.');
  if (decimalPos === -1) stringValue = stringValue + decimalSeparator;
  else stringValue = stringValue.replace('.', decimalSeparator);
  while (stringValue.charAt(0) === zeroDigit) stringValue = stringValue.substring(1);
  while (stringValue.charAt(stringValue.length - 1) === zeroDigit) stringValue = stringValue.substring(0, stringValue.length - 1);
  decimalPos = stringValue.indexOf(decimalSeparator);
  let padLeft = pic.minimumIntegerPartSize - decimalPos;
  const padRight = pic.minimumFactionalPartSize - (stringValue.length - decimalPos - 1);
  stringValue = (padLeft > 0 ? new Array(padLeft + 1).join(zeroDigit) : '') + stringValue;
  stringValue = stringValue + (padRight > 0 ? new Array(padRight + 1).join(zeroDigit) : '');
  decimalPos = stringValue.indexOf(decimalSeparator);
  if (pic.regularGrouping > 0) {
    const groupCount = Math.floor((decimalPos - 1) / pic.regularGrouping);
    for (let group = 1; group <= groupCount; group++) {
      stringValue = [stringValue.slice(0, decimalPos - group * pic.regularGrouping), groupingSeparator, stringValue.slice(decimalPos - group * pic.regularGrouping)].join('');
    }
  } else {
    pic.integerPartGroupingPositions.forEach((pos: number) => {
      stringValue = [stringValue.slice(0, decimalPos - pos), groupingSeparator, stringValue.slice(decimalPos - pos)].join('');
      decimalPos++;
    });
  }
  decimalPos = stringValue.indexOf(decimalSeparator);
  pic.fractionalPartGroupingPositions.forEach((pos: number) => {
    stringValue = [stringValue.slice(0, pos + decimalPos + 1), groupingSeparator, stringValue.slice(pos + decimalPos + 1)].join('');
  });
  decimalPos = stringValue.indexOf(decimalSeparator);
  if (pic.picture.indexOf(decimalSeparator) === -1 || decimalPos === stringValue.length - 1) stringValue = stringValue.substring(0, stringValue.length - 1);
  if (exponent !== undefined) {
    let stringExponent = makeString(exponent, 0);
    padLeft = pic.minimumExponentSize - stringExponent.length;
    if (padLeft > 0) stringExponent = new Array(padLeft + 1).join(zeroDigit) + stringExponent;
    stringValue = stringValue + properties['exponent-separator'] + (exponent < 0 ? minusSign : '') + stringExponent;
  }
  return pic.prefix + stringValue + pic.suffix;
}
