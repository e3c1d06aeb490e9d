using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace ResumableUpload.Middleware.Engine;

/// <summary>
/// Derives store keys from untrusted ids. The key is the SHA-256 of the partition and the id (each length-prefixed,
/// so no two different (partition, id) pairs share an encoding), as 64 lowercase hex characters. Client strings
/// never reach a path: <c>../../etc/passwd</c> is just an odd name that hashes like any other.
/// </summary>
internal static class UploadKeys
{
    public const int Length = 64;

    public static string Create(string partition, string fileId)
    {
        var partitionBytes = Encoding.UTF8.GetByteCount(partition);
        var idBytes = Encoding.UTF8.GetByteCount(fileId);
        var total = 8 + partitionBytes + idBytes;
        var buffer = total <= 1024 ? stackalloc byte[total] : new byte[total];
        BinaryPrimitives.WriteInt32BigEndian(buffer, partitionBytes);
        Encoding.UTF8.GetBytes(partition, buffer.Slice(4, partitionBytes));
        BinaryPrimitives.WriteInt32BigEndian(buffer.Slice(4 + partitionBytes), idBytes);
        Encoding.UTF8.GetBytes(fileId, buffer.Slice(8 + partitionBytes));
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(buffer, hash);
        return Convert.ToHexStringLower(hash);
    }

    /// <summary>True when <paramref name="key"/> is exactly 64 lowercase hex characters (defence in depth for stores that build paths from keys).</summary>
    public static bool IsValid(string? key)
    {
        if (key is null || key.Length != Length)
        {
            return false;
        }

        foreach (var c in key)
        {
            if (!char.IsAsciiDigit(c) && c is not (>= 'a' and <= 'f'))
            {
                return false;
            }
        }

        return true;
    }

    public static void ThrowIfInvalid(string key)
    {
        if (!IsValid(key))
        {
            throw new ArgumentException("Upload keys are 64 lowercase hexadecimal characters derived by the engine.", nameof(key));
        }
    }
}
