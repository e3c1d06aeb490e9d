using ResumableUpload.Middleware.Engine;

namespace ResumableUpload.Middleware.Tests.Engine;

public sealed class UploadKeysTests
{
    [Fact]
    public void Create_IsDeterministicLowercaseHex()
    {
        var key = UploadKeys.Create("user:alice", "file-1");

        key.Should().MatchRegex("^[0-9a-f]{64}$").And.Be(UploadKeys.Create("user:alice", "file-1"));
        UploadKeys.IsValid(key).Should().BeTrue();
    }

    [Theory]
    [InlineData("a", "bc", "ab", "c")]
    [InlineData("user:alice", "x", "user:bob", "x")]
    [InlineData("p", "é", "p", "e\u0301")]
    [InlineData("p", "File", "p", "file")]
    public void Create_DifferentPartitionOrIdPairs_GiveDifferentKeys(string p1, string id1, string p2, string id2)
        => UploadKeys.Create(p1, id1).Should().NotBe(UploadKeys.Create(p2, id2));

    [Fact]
    public void Create_VeryLongId_Works()
        => UploadKeys.Create("p", new string('x', 100_000)).Should().HaveLength(64);
}
