using System.Globalization;
using System.Text;

namespace ResumableUpload.Stores.AzureBlob;

/// <summary>
/// A staged block of an upload's block blob, named by what it holds: the writer that staged it and the byte range it
/// covers. A writer is a generation (one more than any generation the blob held when that writer opened), the fencing
/// token of its lease, or without leases the time it opened (Unix milliseconds), and a random nonce (so two writers
/// never share an id). Every id is the Base64 of 62 bytes, so all ids of a blob have the same length (the service
/// requires it, and allows 64 bytes) and the block list alone tells where each block belongs:
/// <list type="bullet">
/// <item><c>ru3.{generation:D8}.{token:x13}.{nonce:x8}.{start:D15}.{length:D10}</c> under a lease (<see cref="Token"/> &gt; 0);</item>
/// <item><c>ru2.{generation:D8}.{openedAt:D13}.{nonce:x8}.{start:D15}.{length:D10}</c> without one (token 0, one instance).</item>
/// </list>
/// </summary>
internal readonly record struct BlockId(long Generation, long OpenedAt, uint Nonce, long Start, long Length)
{
    private const string ClockTag = "ru2";
    private const string TokenTag = "ru3";
    private const int TextLength = 3 + 1 + 8 + 1 + 13 + 1 + 8 + 1 + 15 + 1 + 10;

    /// <summary>The highest generation an id can hold.</summary>
    public const long MaxGeneration = 99_999_999;

    /// <summary>The highest fencing token an id can hold (13 hexadecimal digits: 2^52 - 1, microseconds until the year 2112).</summary>
    public const long MaxToken = 0xF_FFFF_FFFF_FFFF;

    /// <summary>The fencing token of the writer's lease, or 0 without leases (then <see cref="OpenedAt"/> orders writers).</summary>
    public long Token { get; init; }

    /// <summary>The offset just past the block's last byte.</summary>
    public long End => Start + Length;

    /// <summary>The Base64 id the service stores.</summary>
    public string Encode()
    {
        var text = Token > 0
            ? string.Create(CultureInfo.InvariantCulture, $"{TokenTag}.{Generation:D8}.{Token:x13}.{Nonce:x8}.{Start:D15}.{Length:D10}")
            : string.Create(CultureInfo.InvariantCulture, $"{ClockTag}.{Generation:D8}.{OpenedAt:D13}.{Nonce:x8}.{Start:D15}.{Length:D10}");
        return Convert.ToBase64String(Encoding.ASCII.GetBytes(text));
    }

    /// <summary>Reads an id this store wrote; <see langword="false"/> for any other block (left alone, never committed).</summary>
    public static bool TryDecode(string? base64, out BlockId block)
    {
        block = default;
        if (base64 is null || base64.Length != ((TextLength + 2) / 3 * 4))
        {
            return false;
        }

        Span<byte> bytes = stackalloc byte[TextLength + 2];
        if (!Convert.TryFromBase64String(base64, bytes, out var written) || written != TextLength)
        {
            return false;
        }

        var text = Encoding.ASCII.GetString(bytes[..written]);
        var parts = text.Split('.');
        var fenced = parts.Length == 6 && parts[0] == TokenTag;
        if (parts.Length != 6 || (parts[0] != ClockTag && !fenced) || parts[1].Length != 8 || parts[2].Length != 13 || parts[3].Length != 8 || parts[4].Length != 15 || parts[5].Length != 10)
        {
            return false;
        }

        if (!long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var generation)
            || !long.TryParse(parts[2], fenced ? NumberStyles.AllowHexSpecifier : NumberStyles.None, CultureInfo.InvariantCulture, out var openedAtOrToken)
            || (fenced && openedAtOrToken <= 0)
            || !uint.TryParse(parts[3], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var nonce)
            || !long.TryParse(parts[4], NumberStyles.None, CultureInfo.InvariantCulture, out var start)
            || !long.TryParse(parts[5], NumberStyles.None, CultureInfo.InvariantCulture, out var length)
            || length <= 0)
        {
            return false;
        }

        block = fenced
            ? new BlockId(generation, 0, nonce, start, length) { Token = openedAtOrToken }
            : new BlockId(generation, openedAtOrToken, nonce, start, length);
        return true;
    }

    /// <summary>
    /// The blocks that hold the upload's bytes, in order from offset 0 and without gaps. A writer opened at offset P
    /// discards every byte from P on, and it stages its blocks contiguously from P; so, taking writers from the newest
    /// down, each contributes only the blocks below the start of every newer writer. The newest is the one with the
    /// highest fencing token (whatever its generation or instance clock: a writer of an older lease that opened late
    /// still loses), then the highest generation, then, without leases (one instance, one clock), the latest opening,
    /// then the nonce. Blocks of writers that
    /// lost that way (a writer that died before its offset was published, or a stale one after a newer writer took over)
    /// are left out, as are blocks past the first gap.
    /// </summary>
    public static List<BlockId> Chain(IEnumerable<BlockId> blocks)
    {
        var cutoff = long.MaxValue;
        var kept = new List<BlockId>();
        foreach (var writer in blocks.GroupBy(b => (b.Token, b.Generation, b.OpenedAt, b.Nonce))
                     .OrderByDescending(g => g.Key.Token).ThenByDescending(g => g.Key.Generation).ThenByDescending(g => g.Key.OpenedAt).ThenByDescending(g => g.Key.Nonce))
        {
            var writerStart = long.MaxValue;
            foreach (var block in writer)
            {
                writerStart = Math.Min(writerStart, block.Start);
                if (block.End <= cutoff)
                {
                    kept.Add(block);
                }
            }

            cutoff = Math.Min(cutoff, writerStart);
        }

        kept.Sort((a, b) => a.Start.CompareTo(b.Start));
        var chain = new List<BlockId>(kept.Count);
        var next = 0L;
        foreach (var block in kept)
        {
            if (block.Start == next)
            {
                chain.Add(block);
                next = block.End;
            }
            else if (block.Start > next)
            {
                break;
            }
        }

        return chain;
    }

    /// <summary>How many leading blocks of <paramref name="chain"/> end at or before <paramref name="offset"/>, and where the last of them ends.</summary>
    public static (int Count, long End) PrefixAtOrBefore(List<BlockId> chain, long offset)
    {
        var count = 0;
        var end = 0L;
        foreach (var block in chain)
        {
            if (block.End > offset)
            {
                break;
            }

            count++;
            end = block.End;
        }

        return (count, end);
    }
}
