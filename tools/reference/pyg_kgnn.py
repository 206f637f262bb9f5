#!/usr/bin/env python3
"""PyTorch Geometric reference of aiop's predictor network, for timing epochs.

Reads the tensors written by `aiop dataset tensors DATASET --task T -o FILE.safetensors`,
turns them into one `torch_geometric.data.Data` per graph and trains the same network as
aiop (trainer/src/model.rs) with the same loop (trainer/src/train.rs): batches of 32 in a
shuffled order, Adam, mean squared error on the standardised labels (`targets`).

Prints the time of every epoch and, last, one JSON line:
    {"impl": "pyg", "epochs": N, "epoch_seconds": [...], "mean_epoch_seconds": x,
     "graphs": G, "threads": T, ...}

Example:
    python tools/reference/pyg_kgnn.py nb201.safetensors --epochs 3
"""

import argparse
import json
import math
import random
import sys
import time

import numpy as np
import torch
import torch_geometric
from safetensors.torch import load_file
from torch import nn
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader
from torch_geometric.nn import GraphConv, global_mean_pool

# Sizes of aiop's encoding (predictor/src/encoding.rs) and of its default ModelConfig.
OP_CATEGORIES = 55
NUMERIC_FEATURES = 20
HIDDEN = 32
GNN_LAYERS = 6
MLP_LAYERS = 4


class KGnnPredictor(nn.Module):
    """Node embedding, 6 k-GNN layers, mean pooling and an MLP regressor (as aiop)."""

    def __init__(self, hidden=HIDDEN, gnn_layers=GNN_LAYERS, mlp_layers=MLP_LAYERS):
        super().__init__()
        # h0 = embedding of the op category + linear map of the numeric features
        self.op_embedding = nn.Embedding(OP_CATEGORIES, hidden)
        self.numeric_embedding = nn.Linear(NUMERIC_FEATURES, hidden)
        # GraphConv: h' = W_root·h + W_rel·Σ_{in-neighbours} h + b (aiop's `GraphConv`)
        self.convs = nn.ModuleList(
            GraphConv(hidden, hidden, aggr="add") for _ in range(gnn_layers)
        )
        layers = []
        for _ in range(mlp_layers):
            layers += [nn.Linear(hidden, hidden), nn.ReLU()]
        self.mlp = nn.Sequential(*layers)
        self.out = nn.Linear(hidden, 1)

    def forward(self, data):
        h = self.op_embedding(data.ops) + self.numeric_embedding(data.numeric)
        for conv in self.convs:
            h = conv(h, data.edge_index).relu()
        g = global_mean_pool(h, data.batch, size=data.num_graphs)  # [B, hidden]
        return self.out(self.mlp(g)).squeeze(1)  # [B]


def load_graphs(path, limit=None):
    """The graphs of an `aiop dataset tensors` file as a list of `Data`."""
    t = load_file(path)
    node_offsets = t["node_offsets"].tolist()
    edge_offsets = t["edge_offsets"].tolist()
    count = len(node_offsets) - 1
    if limit is not None:
        count = min(count, limit)
    graphs = []
    for g in range(count):
        n0, n1 = node_offsets[g], node_offsets[g + 1]
        e0, e1 = edge_offsets[g], edge_offsets[g + 1]
        # edges are stored with global node indices: make them local to the graph
        edge_index = torch.stack([t["edge_src"][e0:e1], t["edge_dst"][e0:e1]]) - n0
        graphs.append(
            Data(
                ops=t["ops"][n0:n1].clone(),
                numeric=t["numeric"][n0:n1].clone(),
                edge_index=edge_index,
                y=t["targets"][g : g + 1].clone(),
                num_nodes=n1 - n0,
            )
        )
    return graphs


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tensors", help="file written by `aiop dataset tensors`")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument(
        "--schedule",
        choices=["constant", "cosine"],
        default="constant",
        help="learning rate over the epochs (aiop train: cosine)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's)"
    )
    parser.add_argument(
        "--limit", type=int, default=None, help="only the first N graphs (quick checks)"
    )
    args = parser.parse_args()

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    seed_everything(args.seed)

    start = time.perf_counter()
    graphs = load_graphs(args.tensors, args.limit)
    nodes = sum(g.num_nodes for g in graphs)
    edges = sum(g.edge_index.size(1) for g in graphs)
    print(
        f"{len(graphs)} graphs ({nodes} nodes, {edges} edges) loaded in "
        f"{time.perf_counter() - start:.1f} s",
        file=sys.stderr,
    )

    model = KGnnPredictor()
    params = sum(p.numel() for p in model.parameters())
    print(
        f"torch {torch.__version__}, torch_geometric {torch_geometric.__version__}, "
        f"{torch.get_num_threads()} threads, {params} parameters",
        file=sys.stderr,
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    # seeded shuffling; batches are collated in the main process, as aiop does
    loader = DataLoader(
        graphs,
        batch_size=args.batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(args.seed),
    )

    model.train()
    epoch_seconds = []
    for epoch in range(args.epochs):
        if args.schedule == "cosine":  # aiop's Schedule::Cosine
            lr = args.lr * 0.5 * (1 + math.cos(math.pi * epoch / args.epochs))
            for group in optimizer.param_groups:
                group["lr"] = lr
        # timed like aiop's EpochReport::seconds: batching + forward + backward + update
        start = time.perf_counter()
        total = 0.0
        for batch in loader:
            optimizer.zero_grad()
            loss = nn.functional.mse_loss(model(batch), batch.y)
            loss.backward()
            optimizer.step()
            total += loss.item() * batch.num_graphs
        seconds = time.perf_counter() - start
        epoch_seconds.append(seconds)
        print(
            f"epoch {epoch + 1}/{args.epochs}: loss {total / len(graphs):.4f}  "
            f"{seconds:.2f} s",
            file=sys.stderr,
        )

    print(
        json.dumps(
            {
                "impl": "pyg",
                "epochs": args.epochs,
                "epoch_seconds": epoch_seconds,
                "mean_epoch_seconds": sum(epoch_seconds) / max(len(epoch_seconds), 1),
                "graphs": len(graphs),
                "threads": torch.get_num_threads(),
                "parameters": params,
                "torch": torch.__version__,
                "torch_geometric": torch_geometric.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
