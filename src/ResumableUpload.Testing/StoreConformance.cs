using System.Security.Cryptography;
using System.Text;
using ResumableUpload.Middleware.Storage;

namespace ResumableUpload.Testing;

/// <summary>Helpers shared by the conformance suites: keys, records and deterministic bytes.</summary>
public static class StoreConformance
{
    /// <summary>A fresh store key in the engine's shape (64 lowercase hexadecimal characters), never used before.</summary>
    public static string NewKey() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));

    /// <summary>A record as the engine creates it, with every optional field set so a round trip checks them all.</summary>
    public static UploadRecord NewRecord(string? key = null, DateTimeOffset? now = null)
    {
        var at = Truncate(now ?? DateTimeOffset.UtcNow);
        return new UploadRecord
        {
            Key = key ?? NewKey(),
            Partition = "user:ålice",
            FileId = "photo ü 😀.jpg-1048576-1700000000000",
            Offset = 0,
            Length = 1_048_576,
            CreatedAt = at,
            UpdatedAt = at,
            ExpiresAt = at.AddHours(24),
            Metadata = new Dictionary<string, string> { ["filename"] = "photo ü 😀.jpg", ["filetype"] = "image/jpeg", ["empty"] = string.Empty },
        };
    }

    /// <summary>Drops sub-millisecond precision, which a store may round away.</summary>
    public static DateTimeOffset Truncate(DateTimeOffset value) => new(value.UtcTicks - (value.UtcTicks % TimeSpan.TicksPerMillisecond), TimeSpan.Zero);

    /// <summary>Deterministic pseudo-random bytes for a seed, so a test can rebuild what it wrote.</summary>
    public static byte[] Bytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>Reads a whole stream (or <see langword="null"/>) into an array.</summary>
    public static async Task<byte[]?> ReadAllAsync(Stream? stream)
    {
        if (stream is null)
        {
            return null;
        }

        await using (stream)
        {
            using var copy = new MemoryStream();
            await stream.CopyToAsync(copy);
            return copy.ToArray();
        }
    }

    /// <summary>A short description of two byte arrays' first difference, for assertion messages.</summary>
    public static string Describe(byte[] expected, byte[]? actual)
    {
        if (actual is null)
        {
            return "no bytes were stored";
        }

        var common = Math.Min(expected.Length, actual.Length);
        for (var i = 0; i < common; i++)
        {
            if (expected[i] != actual[i])
            {
                return $"the bytes differ first at offset {i} (expected {expected.Length} bytes, got {actual.Length})";
            }
        }

        return new StringBuilder().Append("expected ").Append(expected.Length).Append(" bytes, got ").Append(actual.Length).ToString();
    }
}
