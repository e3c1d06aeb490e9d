using System.Text;

namespace ResumableUpload.Stores.AzureBlob.Tests;

public sealed class BlockIdTests
{
    [Fact]
    public void Encode_RoundTrips_WithOneLengthForEveryId()
    {
        var ids = new[] { new BlockId(1, 1_000, 0, 0, 1), new BlockId(BlockId.MaxGeneration, 9_999_999_999_999, uint.MaxValue, 999_999_999_999_999, 4000L * 1024 * 1024) };
        var encoded = ids.Select(id => id.Encode()).ToArray();

        encoded.Select(e => e.Length).Distinct().Should().ContainSingle("the service wants every block id of a blob to have the same length");
        Convert.FromBase64String(encoded[0]).Length.Should().BeLessThanOrEqualTo(64, "the service limits a block id to 64 bytes before encoding");
        for (var i = 0; i < ids.Length; i++)
        {
            BlockId.TryDecode(encoded[i], out var decoded).Should().BeTrue();
            decoded.Should().Be(ids[i]);
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("AAAA")]
    [InlineData("not base64 at all, and long enough to be the right length for a block id!!")]
    public void TryDecode_ForeignIds_AreNotOurs(string id)
        => BlockId.TryDecode(id, out _).Should().BeFalse();

    [Fact]
    public void TryDecode_SameLengthWithAnotherTag_IsNotOurs()
    {
        var ours = new BlockId(1, 1_000, 2, 3, 4).Encode();
        var text = Encoding.ASCII.GetString(Convert.FromBase64String(ours));
        var foreign = Convert.ToBase64String(Encoding.ASCII.GetBytes("xx9" + text[3..]));
        BlockId.TryDecode(ours, out _).Should().BeTrue();
        BlockId.TryDecode(foreign, out _).Should().BeFalse();
    }

    [Fact]
    public void Chain_OneWriter_IsItsBlocksInOrderUpToTheFirstGap()
    {
        var blocks = new[] { new BlockId(1, 1_000, 7, 100, 50), new BlockId(1, 1_000, 7, 0, 100), new BlockId(1, 1_000, 7, 200, 10) };
        BlockId.Chain(blocks).Should().Equal(new BlockId(1, 1_000, 7, 0, 100), new BlockId(1, 1_000, 7, 100, 50));
    }

    [Fact]
    public void Chain_NewerWriter_ReplacesEverythingFromItsStart_EvenBlocksOfOtherLengthsAtTheSameOffset()
    {
        // Writer 1 staged [0,100) [100,130) [130,160); it died before publishing 130 or 160. Writer 2 reopened at 100
        // and staged [100,160) as one block (same end, other bytes). Writer 3 must see writer 2's bytes only.
        var blocks = new[]
        {
            new BlockId(1, 1_000, 5, 0, 100), new BlockId(1, 1_000, 5, 100, 30), new BlockId(1, 1_000, 5, 130, 30),
            new BlockId(2, 2_000, 3, 100, 60),
        };

        BlockId.Chain(blocks).Should().Equal(new BlockId(1, 1_000, 5, 0, 100), new BlockId(2, 2_000, 3, 100, 60));
    }

    [Fact]
    public void Chain_StaleWriterStagingAfterANewerOne_IsIgnored()
    {
        // Writer 1 published 100, lost its lease, and went on staging [100,150) [150,200) after writer 2 took over at 100.
        var blocks = new[]
        {
            new BlockId(1, 1_000, 9, 0, 100), new BlockId(2, 2_000, 1, 100, 20), new BlockId(1, 1_000, 9, 100, 50), new BlockId(1, 1_000, 9, 150, 50),
        };

        BlockId.Chain(blocks).Should().Equal(new BlockId(1, 1_000, 9, 0, 100), new BlockId(2, 2_000, 1, 100, 20));
    }

    [Fact]
    public void Chain_TwoWritersOfOneGeneration_TheLaterOpenedWins()
    {
        // Writer A opened (generation 2) but staged nothing before its lease expired; writer B opened later, saw the
        // same blocks and so took generation 2 as well. A's last flush (after B started) must not hide B's bytes.
        var blocks = new[]
        {
            new BlockId(1, 1_000, 4, 0, 100),
            new BlockId(2, 5_000, 0xFFFFFFFF, 100, 10), // A: opened first, highest nonce
            new BlockId(2, 9_000, 1, 100, 50),          // B: opened 4 s later
        };

        BlockId.Chain(blocks).Should().Equal(new BlockId(1, 1_000, 4, 0, 100), new BlockId(2, 9_000, 1, 100, 50));
    }

    [Fact]
    public void PrefixAtOrBefore_InsideABlock_FallsBackToItsStart()
    {
        var chain = new List<BlockId> { new(1, 1_000, 1, 0, 100), new(1, 1_000, 1, 100, 100) };
        BlockId.PrefixAtOrBefore(chain, 150).Should().Be((1, 100L));
        BlockId.PrefixAtOrBefore(chain, 200).Should().Be((2, 200L));
        BlockId.PrefixAtOrBefore(chain, 5000).Should().Be((2, 200L));
        BlockId.PrefixAtOrBefore(chain, 99).Should().Be((0, 0L));
    }
}
