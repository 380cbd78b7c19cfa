// SPDX-License-Identifier: MIT
// Tiny contracts for tracer's RPC ingest tests (tests/tracer/ingest_rpc). Compiled once with
// solcjs 0.8.28 (npm `solc@0.8.28`), optimizer on, 200 runs, default EVM version (cancun); the bytecode
// is committed in bytecode.json beside this file (see build.sh to rebuild it).
pragma solidity 0.8.28;

/// Sends value on: each call moves ether through an internal call.
contract Forwarder {
    /// Forward all of msg.value to `to`.
    function forward(address payable to) external payable {
        (bool ok, ) = to.call{value: msg.value}("");
        require(ok, "forward failed");
    }

    /// Split msg.value between `a` and `b` (a gets the odd wei).
    function split(address payable a, address payable b) external payable {
        uint256 half = msg.value / 2;
        (bool okA, ) = a.call{value: msg.value - half}("");
        (bool okB, ) = b.call{value: half}("");
        require(okA && okB, "split failed");
    }

    /// Try to send msg.value to `to`; a failing callee keeps the value here (the call reverts,
    /// the transaction does not).
    function tryForward(address payable to) external payable returns (bool ok) {
        (ok, ) = to.call{value: msg.value}("");
    }

    receive() external payable {}
}

/// Refuses every payment: a call that carries value to it reverts.
contract Reverter {
    receive() external payable {
        revert("no thanks");
    }
}

/// A minimal ERC-20 with Transfer and Approval events; metadata from the constructor.
contract Token {
    string public name;
    string public symbol;
    uint8 public decimals;
    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    constructor(string memory name_, string memory symbol_, uint8 decimals_, uint256 supply) {
        name = name_;
        symbol = symbol_;
        decimals = decimals_;
        totalSupply = supply;
        balanceOf[msg.sender] = supply;
        emit Transfer(address(0), msg.sender, supply);
    }

    function transfer(address to, uint256 value) external returns (bool) {
        _move(msg.sender, to, value);
        return true;
    }

    function approve(address spender, uint256 value) external returns (bool) {
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        require(allowed >= value, "allowance");
        allowance[from][msg.sender] = allowed - value;
        _move(from, to, value);
        return true;
    }

    function _move(address from, address to, uint256 value) private {
        require(balanceOf[from] >= value, "balance");
        balanceOf[from] -= value;
        balanceOf[to] += value;
        emit Transfer(from, to, value);
    }
}

/// A token with no metadata functions at all (name/symbol/decimals revert), and NFT events.
contract Bare {
    event Transfer(address indexed from, address indexed to, uint256 value);
    event TransferSingle(
        address indexed operator, address indexed from, address indexed to, uint256 id, uint256 value
    );

    /// An ERC-20-shaped Transfer log with any value (no balances are kept).
    function emitTransfer(address to, uint256 value) external {
        emit Transfer(msg.sender, to, value);
    }

    /// An ERC-1155 TransferSingle log.
    function emitSingle(address to, uint256 id, uint256 value) external {
        emit TransferSingle(msg.sender, msg.sender, to, id, value);
    }
}

/// An ERC-721 Transfer log (tokenId indexed, four topics), with ERC-165 but no metadata.
contract Nft {
    event Transfer(address indexed from, address indexed to, uint256 indexed tokenId);

    function mint(address to, uint256 tokenId) external {
        emit Transfer(address(0), to, tokenId);
    }

    /// ERC-165: says it is an ERC-721 (0x80ac58cd).
    function supportsInterface(bytes4 id) external pure returns (bool) {
        return id == 0x80ac58cd || id == 0x01ffc9a7;
    }
}
