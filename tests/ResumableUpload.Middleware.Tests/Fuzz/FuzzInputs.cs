using System.Globalization;
using System.Text;

namespace ResumableUpload.Middleware.Tests.Fuzz;

/// <summary>
/// Seeded generators of hostile header values and ids. The count of every fuzz test is multiplied by
/// <c>RU_FUZZ_SCALE</c> (default 1) and the seed comes from <c>RU_FUZZ_SEED</c> (default fixed; "random" for a fresh one):
/// <code>
/// # 10^6+ parser inputs (about 10x the default), and 10x the HTTP requests:
/// RU_FUZZ_SCALE=10 RU_FUZZ_SEED=random dotnet test tests/ResumableUpload.Middleware.Tests --filter "FullyQualifiedName~Fuzz"
/// </code>
/// Every assertion message names the seed and the offending input (escaped).
/// </summary>
internal sealed class FuzzInputs
{
    public const int DefaultSeed = 7_340_032;

    private static readonly string[] Digits = ["0", "1", "9", "٣", "３", "𝟗", "¹", "½", "Ⅻ", "〇", "߀"];
    private static readonly string[] Specials =
    [
        "+", "-", " ", "\t", ".", ",", "e", "E", "x", "0x", ";", "=", ":", "?", "/", "\\", "..", "%", "%2e", "\"", "'", "(", ")",
        "\u00A0", "\u2007", "\u3000", "\u200B", "\uFEFF", "\u0000", "\u0001", "\u001F", "\u007F", "\u0085", "\u009F",
        "\r", "\n", "é", "ß", "İ", "ﬁ", "😀", "\uD800", "\uDC00", "\uFFFD", "\uFFFF", "א", "ٮ", "∞", "NaN",
    ];

    private static readonly string[] Numbers =
    [
        "0", "1", "00", "007", "9223372036854775807", "9223372036854775808", "9223372036854775806", "18446744073709551615",
        "18446744073709551616", "0000000000000000000", "00000000000000000000", "0009223372036854775807", "999999999999999", "1000000000000000",
        "999999999999999999", "9999999999999999999", "-0", "+0", "-1", "+1", " 1", "1 ", "1,2", "1.0", "1e3", "0x10", "١٢٣", "１２３",
        "-9223372036854775808", "", " ", "536870912", "524288", "524289", "1073741824",
    ];

    private readonly Random _rng;

    public FuzzInputs(int seed)
    {
        Seed = seed;
        _rng = new Random(seed);
    }

    public int Seed { get; }

    public Random Rng => _rng;

    public static int Scale => int.Parse(Environment.GetEnvironmentVariable("RU_FUZZ_SCALE") ?? "1", CultureInfo.InvariantCulture);

    public static FuzzInputs FromEnvironment(int salt)
    {
        var text = Environment.GetEnvironmentVariable("RU_FUZZ_SEED");
        var seed = text is null ? DefaultSeed : text == "random" ? Random.Shared.Next() : int.Parse(text, CultureInfo.InvariantCulture);
        return new FuzzInputs(seed ^ salt);
    }

    /// <summary>A number-like string: valid numbers, numbers near 2^63, and their mutations.</summary>
    public string NumberLike()
    {
        switch (_rng.Next(6))
        {
            case 0:
                return Numbers[_rng.Next(Numbers.Length)];
            case 1:
                return Mutate(Numbers[_rng.Next(Numbers.Length)]);
            case 2:
            {
                // Near 2^63 and near 10^k.
                var baseValue = _rng.Next(3) switch
                {
                    0 => (System.Numerics.BigInteger)long.MaxValue,
                    1 => System.Numerics.BigInteger.Pow(10, _rng.Next(1, 21)),
                    _ => System.Numerics.BigInteger.Pow(2, _rng.Next(0, 66)),
                };
                var value = baseValue + _rng.Next(-3, 4);
                var text = value.ToString(CultureInfo.InvariantCulture);
                return _rng.Next(4) == 0 ? new string('0', _rng.Next(1, 4)) + text : text;
            }

            case 3:
                return _rng.NextInt64(0, long.MaxValue).ToString(CultureInfo.InvariantCulture);
            case 4:
            {
                var builder = new StringBuilder();
                var length = _rng.Next(0, 24);
                for (var i = 0; i < length; i++)
                {
                    builder.Append(_rng.Next(10) < 8 ? (char)('0' + _rng.Next(10)) : Digits[_rng.Next(Digits.Length)]);
                }

                return builder.ToString();
            }

            default:
                return Mutate(_rng.Next(10).ToString(CultureInfo.InvariantCulture) + Any(8));
        }
    }

    /// <summary>Any string: ASCII, specials, unicode, control characters, sometimes very long.</summary>
    public string Any(int maxLength = 40)
    {
        var length = _rng.Next(20) == 0 ? _rng.Next(maxLength, maxLength * 40) : _rng.Next(0, maxLength);
        var builder = new StringBuilder(length);
        while (builder.Length < length)
        {
            builder.Append(_rng.Next(10) switch
            {
                < 5 => ((char)_rng.Next(0x20, 0x7F)).ToString(),
                < 7 => Specials[_rng.Next(Specials.Length)],
                8 => char.ConvertFromUtf32(_rng.Next(0x80, 0x2FFF)),
                _ => Digits[_rng.Next(Digits.Length)],
            });
        }

        return builder.ToString();
    }

    /// <summary>An id: printable, path-like, unicode, control characters, lengths around the 1024-byte limit.</summary>
    public string FileId()
    {
        return _rng.Next(8) switch
        {
            0 => "../../" + Any(20),
            1 => "/etc/" + Any(10),
            2 => "C:\\Windows\\" + Any(10) + "\\..\\..",
            3 => new string('a', _rng.Next(1000, 1030)),
            4 => new string('é', _rng.Next(508, 516)),
            5 => string.Concat(Enumerable.Repeat("😀", _rng.Next(250, 260))),
            _ => Any(60),
        };
    }

    /// <summary>A Base64 value: valid, padded wrong, with whitespace, non-Base64 characters, invalid UTF-8 payloads.</summary>
    public string Base64Like()
    {
        var bytes = new byte[_rng.Next(0, 24)];
        _rng.NextBytes(bytes);
        if (_rng.Next(2) == 0)
        {
            bytes = Encoding.UTF8.GetBytes(Any(12));
        }

        var text = Convert.ToBase64String(bytes);
        return _rng.Next(3) == 0 ? Mutate(text) : text;
    }

    public string Mutate(string text)
    {
        var builder = new StringBuilder(text);
        var edits = _rng.Next(1, 4);
        for (var i = 0; i < edits; i++)
        {
            var position = builder.Length == 0 ? 0 : _rng.Next(builder.Length + 1);
            switch (_rng.Next(3))
            {
                case 0:
                    builder.Insert(position, Specials[_rng.Next(Specials.Length)]);
                    break;
                case 1 when builder.Length > 0:
                    builder.Remove(Math.Min(position, builder.Length - 1), 1);
                    break;
                default:
                    if (builder.Length > 0)
                    {
                        builder[Math.Min(position, builder.Length - 1)] = Specials[_rng.Next(Specials.Length)][0];
                    }

                    break;
            }
        }

        return builder.ToString();
    }

    public T Pick<T>(params T[] items) => items[_rng.Next(items.Length)];

    /// <summary>An input as C#-escaped text for messages.</summary>
    public static string Show(string? value)
    {
        if (value is null)
        {
            return "(null)";
        }

        var builder = new StringBuilder("\"");
        foreach (var c in value.Length > 200 ? value[..200] : value)
        {
            builder.Append(c is >= ' ' and < '\u007F' && c != '"' && c != '\\' ? c.ToString() : $"\\u{(int)c:X4}");
        }

        builder.Append('"');
        if (value.Length > 200)
        {
            builder.Append(CultureInfo.InvariantCulture, $"...({value.Length} chars)");
        }

        return builder.ToString();
    }
}
