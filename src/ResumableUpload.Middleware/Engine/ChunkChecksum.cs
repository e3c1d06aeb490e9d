using System.Security.Cryptography;

namespace ResumableUpload.Middleware.Engine;

/// <summary>
/// Verifies one request body against a checksum the client sent: in a header (the algorithm is known before the
/// body) or in a trailer (known only after it, so every supported algorithm is computed). While one is attached,
/// the engine publishes nothing until the whole body has been checked, so a chunk that fails the check is
/// discarded and the offset stays where it was.
/// </summary>
internal sealed class ChunkChecksum : IDisposable
{
    private readonly (string Name, IncrementalHash Hash)[] _hashes;
    private readonly Func<(string Algorithm, byte[] Digest)?> _expected;

    private ChunkChecksum(IEnumerable<string> names, Func<(string Algorithm, byte[] Digest)?> expected)
    {
        _hashes = names.Select(name =>
        {
            TryGetAlgorithm(name, out var algorithm);
            return (name, IncrementalHash.CreateHash(algorithm));
        }).ToArray();
        _expected = expected;
    }

    /// <summary>The algorithms accepted, by their tus names.</summary>
    public static IReadOnlyList<string> SupportedNames { get; } = ["sha1", "md5", "sha256", "sha512"];

    /// <summary>The algorithm of the checksum that was checked last (for messages).</summary>
    public string? CheckedAlgorithm { get; private set; }

    /// <summary>A checksum whose algorithm and digest are known before the body (a header).</summary>
    public static ChunkChecksum ForKnown(string algorithm, byte[] digest) => new([algorithm], () => (algorithm, digest));

    /// <summary>A checksum that arrives after the body (a trailer); <paramref name="expected"/> is read once the body has ended.</summary>
    public static ChunkChecksum ForTrailer(Func<(string Algorithm, byte[] Digest)?> expected) => new(SupportedNames, expected);

    public static bool TryGetAlgorithm(string name, out HashAlgorithmName algorithm)
    {
        algorithm = name switch
        {
            "sha1" => HashAlgorithmName.SHA1,
            "md5" => HashAlgorithmName.MD5,
            "sha256" => HashAlgorithmName.SHA256,
            "sha512" => HashAlgorithmName.SHA512,
            _ => default,
        };
        return algorithm != default;
    }

    public void Append(ReadOnlySpan<byte> data)
    {
        foreach (var (_, hash) in _hashes)
        {
            hash.AppendData(data);
        }
    }

    /// <summary>Whether the bytes appended match the expected digest (false when the client sent none after all).</summary>
    public bool Matches()
    {
        var expected = _expected();
        if (expected is not { } value)
        {
            return false;
        }

        CheckedAlgorithm = value.Algorithm;
        foreach (var (name, hash) in _hashes)
        {
            if (name == value.Algorithm)
            {
                Span<byte> actual = stackalloc byte[64];
                var written = hash.GetHashAndReset(actual);
                return CryptographicOperations.FixedTimeEquals(actual[..written], value.Digest);
            }
        }

        return false;
    }

    public void Dispose()
    {
        foreach (var (_, hash) in _hashes)
        {
            hash.Dispose();
        }
    }
}
